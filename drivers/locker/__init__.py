"""Smart lockers over MQTT (protocol v1): message models, the station's client, the firmware simulator."""
from drivers.locker.link import (
    LockerAck,
    LockerError,
    LockerEvent,
    LockerLink,
    LockerOffline,
    LockerView,
    OutcomeUnknown,
    SlotView,
)

__all__ = [
    "LockerAck", "LockerError", "LockerEvent", "LockerLink", "LockerOffline", "LockerView",
    "OutcomeUnknown", "SlotView",
]
