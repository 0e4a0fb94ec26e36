"""The bottom layer both the station and the centre stand on: personal-data masking, free-text cleaning and the
shared vocabulary (item types, complaint categories, floors and their words).

It imports nothing of `kiosk`, `drivers` or `server_bridge` (see docs/architecture.md; a test enforces it).
"""
