"""Screens: conversation (the main one)."""
