"""Schema of a receipt printer model: lives in `mallcommon.schemas.printer` (the centre validates bundles with it)."""
from mallcommon.schemas.printer import (
    NetworkInterface,
    PrinterFonts,
    PrinterInterfaces,
    PrinterProfile,
    PrinterQr,
    SerialInterface,
    UsbInterface,
    use_private_escpos_cache,
)

__all__ = ["NetworkInterface", "PrinterFonts", "PrinterInterfaces", "PrinterProfile", "PrinterQr",
           "SerialInterface", "UsbInterface", "use_private_escpos_cache"]
