"""The station app: config, composition root, store, tokens, services and the Kivy UI."""
__version__ = "0.1.0"
