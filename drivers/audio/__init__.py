"""Audio hardware the station asks about: whether a headphone is plugged into the kiosk's jack (docs/ui.md
"Speech"). A small protocol with a real adapter (the Linux input layer's headphone switch) and a simulated one."""
from drivers.audio.jack import EvdevJack, HeadphoneJack, NoJack, SimulatedJack, open_jack

__all__ = ["EvdevJack", "HeadphoneJack", "NoJack", "SimulatedJack", "open_jack"]
