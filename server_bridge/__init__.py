"""Station ↔ centre: the station's uploader and the central ops service."""
