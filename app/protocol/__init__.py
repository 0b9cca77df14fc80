"""The Voice Live wire protocol as plain data: no sockets, no audio devices, no UI.

Everything here can be unit-tested in isolation and is shared by the client and the local emulator.
"""
