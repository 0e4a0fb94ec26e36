"""Screen registry and home tiles as data: other rooms append their screens and tiles here.

SCREENS maps a screen name to "module:Class"; each screen is one .py + one .kv (same stem) in this folder.
HOME_TILES lists the home grid in order; `label` is a msgid of the catalogs in kiosk/ui/locale.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class HomeTile:
    id: str
    icon: str           # a pictogram name (kiosk/ui/pictograms.py)
    label: str          # msgid
    screen: str
    params: dict[str, Any] = field(default_factory=dict)


SCREENS: dict[str, str] = {
    "attract": "kiosk.ui.screens.attract:AttractScreen",
    "home": "kiosk.ui.screens.home:HomeScreen",
    "borrow": "kiosk.ui.screens.borrow:BorrowScreen",
    "wait": "kiosk.ui.screens.wait:WaitScreen",
    "pay": "kiosk.ui.screens.pay:PayScreen",  # issue 14: deposit by WeChat Pay / Alipay QR
    "receipt": "kiosk.ui.screens.receipt:ReceiptScreen",
    "return": "kiosk.ui.screens.returning:ReturnScreen",
    "returned": "kiosk.ui.screens.returning:ReturnedScreen",
    "rating": "kiosk.ui.screens.rating:RatingScreen",
    "message": "kiosk.ui.screens.message:MessageScreen",
    "staff_pin": "kiosk.ui.screens.staff:StaffPinScreen",
    "diagnostics": "kiosk.ui.screens.diagnostics:DiagnosticsScreen",
    "maintenance": "kiosk.ui.screens.maintenance:MaintenanceScreen",
    # the rest of the desk (issue 7)
    "desk_menu": "kiosk.ui.screens.desk_menu:DeskMenuScreen",
    "info": "kiosk.ui.screens.desk_menu:InfoScreen",
    "directory": "kiosk.ui.screens.desk_directory:DirectoryScreen",
    "shop": "kiosk.ui.screens.desk_directory:ShopScreen",
    "member": "kiosk.ui.screens.desk_member:MemberScreen",
    "complaint": "kiosk.ui.screens.desk_complaint:ComplaintScreen",
    "complaint_phone": "kiosk.ui.screens.desk_complaint:ComplaintPhoneScreen",
    "ticket": "kiosk.ui.screens.desk_complaint:TicketScreen",
    "lostfound": "kiosk.ui.screens.desk_lostfound:LostFoundScreen",
    "found_item": "kiosk.ui.screens.desk_lostfound:FoundItemScreen",
    "storage": "kiosk.ui.screens.desk_storage:StorageScreen",
    "found_register": "kiosk.ui.screens.desk_lostfound:StaffFoundScreen",
    # 广播寻人 / 寻物 (issue 17)
    "request": "kiosk.ui.screens.desk_request:RequestScreen",
    "request_phone": "kiosk.ui.screens.desk_request:RequestPhoneScreen",
    "request_ticket": "kiosk.ui.screens.desk_request:RequestTicketScreen",
    # the desk's written duties (issue 17)
    "duties": "kiosk.ui.screens.desk_duties:DutiesScreen",
    "staff_supplies": "kiosk.ui.screens.desk_duties:StaffSuppliesScreen",
    "supplies_check": "kiosk.ui.screens.desk_duties:SuppliesCheckScreen",
    "staff_storage": "kiosk.ui.screens.desk_duties:StaffStorageScreen",
    "handover": "kiosk.ui.screens.desk_duties:HandoverScreen",
    "supplies": "kiosk.ui.screens.desk_duties:SuppliesScreen",
}

HOME_TILES: list[HomeTile] = [
    HomeTile("umbrella", "umbrella", "Borrow an umbrella", "borrow", {"item_type": "umbrella"}),
    HomeTile("power_bank", "power_bank", "Borrow a power bank", "borrow", {"item_type": "power_bank"}),
    HomeTile("stroller", "stroller", "Borrow a stroller", "borrow", {"item_type": "stroller"}),
    HomeTile("return", "return", "Return an item", "return"),
    HomeTile("desk", "more", "More services", "desk_menu"),
]
