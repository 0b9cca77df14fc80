#!/usr/bin/env bash
# Virtual, real-time-clocked sound devices for machines without a sound card (CI, servers, containers).
#
#   eval "$(scripts/virtual-audio.sh start)"   # starts a private PulseAudio, prints the exports to use
#   scripts/virtual-audio.sh stop              # stops the daemon and the keepalive streams it started
#   scripts/virtual-audio.sh install           # the Debian/Ubuntu packages it needs (root; once per machine)
#   scripts/virtual-audio.sh env               # the exports only (for a daemon already started)
#
# The test suite runs `start` itself (tests/conftest.py) when PULSE_SERVER is not set, so this is needed by
# hand only to share one daemon between runs or to listen in with other tools.
#
# Devices (24 kHz, mono, s16le null sinks):
#   vspeaker          default output; record what the app played from `vspeaker.monitor`
#   vmicsink          play a WAV into it (`paplay -d vmicsink x.wav`); the app hears it on the
#                     default input `vmicsink.monitor`
# The exports (PULSE_SERVER, PULSE_RUNTIME_PATH, ...) must be in the environment BEFORE the process
# imports sounddevice: PortAudio lists devices once, at import.
set -euo pipefail
DIR=${VIRTUAL_AUDIO_DIR:-${TMPDIR:-/tmp}/virtual-audio-$(id -u)}
RUN=$DIR/run
PACKAGES=(pulseaudio pulseaudio-utils libportaudio2 libasound2-plugins)
TOOLS=(pulseaudio pactl pacat)

log() { printf 'virtual-audio: %s\n' "$*" >&2; }

install_packages() {
  if dpkg -s "${PACKAGES[@]}" >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" = 0 ] || { log "need root: apt install ${PACKAGES[*]}"; return 1; }
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
}

exports() {
  cat <<EOT
export PULSE_SERVER=unix:$RUN/native
export PULSE_RUNTIME_PATH=$RUN
export PULSE_COOKIE=$DIR/cookie
export VIRTUAL_AUDIO_DIR=$DIR
EOT
}

env_vars() { PULSE_SERVER=unix:$RUN/native PULSE_RUNTIME_PATH=$RUN PULSE_COOKIE=$DIR/cookie HOME=$DIR "$@"; }

running() { [ -S "$RUN/native" ] && env_vars pactl info >/dev/null 2>&1; }

start() {
  for tool in "${TOOLS[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || { log "$tool not found; install: apt install ${PACKAGES[*]}"; return 3; }
  done
  mkdir -p "$RUN" && chmod 700 "$DIR" "$RUN"
  if running; then exports; return 0; fi
  cat >"$DIR/default.pa" <<EOT
load-module module-native-protocol-unix socket=$RUN/native auth-anonymous=1
load-module module-null-sink sink_name=vspeaker rate=24000 channels=1 format=s16le
load-module module-null-sink sink_name=vmicsink rate=24000 channels=1 format=s16le
set-default-sink vspeaker
set-default-source vmicsink.monitor
EOT
  env_vars pulseaudio --daemonize=yes -n -F "$DIR/default.pa" --exit-idle-time=-1 \
    --disallow-exit --realtime=no --high-priority=no --log-target=file:"$DIR/pulse.log" 2>/dev/null
  for _ in $(seq 50); do running && break; sleep 0.1; done
  running || { log "PulseAudio did not start; see $DIR/pulse.log"; return 1; }
  # An idle null sink sleeps in 2 s blocks; a 20 ms keepalive stream keeps it ticking in real time.
  for sink in vspeaker vmicsink; do
    env_vars nohup pacat --playback -d "$sink" --latency-msec=20 /dev/zero >/dev/null 2>&1 &
    echo $! >>"$DIR/keepalive.pids"
  done
  sleep 2.1   # let the sinks finish the 2 s block they were sleeping in (a fixed wait: nothing to poll)
  exports
}

stop() {
  if [ -f "$DIR/keepalive.pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$DIR/keepalive.pids"
    rm -f "$DIR/keepalive.pids"
  fi
  if running; then env_vars pulseaudio --kill 2>/dev/null || true; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  install) install_packages ;;
  env) exports ;;
  *) echo "usage: $0 start|stop|install|env" >&2; exit 2 ;;
esac
