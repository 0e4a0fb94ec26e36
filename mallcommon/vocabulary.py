"""The one vocabulary of the station and the centre: item types, complaint categories, floors, and their words.

The stored values (in events, the station's and the centre's tables) are the keys here; a screen or page shows
`*_WORDS[value]` = (zh, en). The kiosk's English words are also its gettext msgids (kiosk/ui/locale), so the
English here must match them. Add a value here and both sides know it; tests/unit/test_vocabulary.py checks
that every place that shows or accepts one of them agrees.
"""
from __future__ import annotations

from typing import Literal, get_args

ItemType = Literal["umbrella", "power_bank", "storage", "stroller"]
ITEM_TYPES: tuple[str, ...] = get_args(ItemType)
ITEM_WORDS: dict[str, tuple[str, str]] = {
    "umbrella": ("雨伞", "Umbrella"),
    "power_bank": ("充电宝", "Power bank"),
    "storage": ("寄存", "Storage"),
    "stroller": ("童车", "Stroller"),
}

ComplaintCategory = Literal["goods", "attitude", "facilities", "parking", "cleanliness", "other"]
COMPLAINT_CATEGORIES: tuple[str, ...] = get_args(ComplaintCategory)
CATEGORY_WORDS: dict[str, tuple[str, str]] = {
    "goods": ("商品质量", "Goods"),
    "attitude": ("服务态度", "Service attitude"),
    "facilities": ("设施设备", "Facilities"),
    "parking": ("停车", "Parking"),
    "cleanliness": ("环境卫生", "Cleanliness"),
    "other": ("其他", "Other"),
}

FoundCategory = Literal["documents", "cards", "phone", "wallet", "keys", "bag", "clothing", "umbrella", "kids",
                        "jewellery", "other"]
FOUND_CATEGORIES: tuple[str, ...] = get_args(FoundCategory)  # lost & found: what was found or lost
FOUND_WORDS: dict[str, tuple[str, str]] = {
    "documents": ("证件", "Documents"),
    "cards": ("卡类", "Cards"),
    "phone": ("手机", "Phone"),
    "wallet": ("钱包", "Wallet"),
    "keys": ("钥匙", "Keys"),
    "bag": ("包", "Bag"),
    "clothing": ("衣物", "Clothing"),
    "umbrella": ("雨伞", "Umbrella"),
    "kids": ("儿童用品", "Kids' things"),
    "jewellery": ("首饰", "Jewellery"),
    "other": ("其他", "Other"),
}

# The mall's floors, bottom up (kiosk/content/floors.yaml draws them; a test keeps the two the same).
FLOORS: tuple[str, ...] = ("B1", "1F", "2F", "3F", "4F")
FLOOR_PATTERN = r"^(B[1-9]|[1-9]F)$"
SHOP_UNIT_PATTERN = r"^(B[1-9]|[1-9]F)-[0-9]{2,3}$"


def english(words: dict[str, tuple[str, str]], value: str) -> str:
    """The English word of a value (the kiosk's gettext msgid); the value itself when it has none."""
    return words[value][1] if value in words else value

# 广播寻人 / 寻物 requests (issue 17): who or what is sought, and the few traits a shopper picks on the screen.
RequestKind = Literal["child", "elder", "companion", "item"]
REQUEST_KINDS: tuple[str, ...] = get_args(RequestKind)
REQUEST_WORDS: dict[str, tuple[str, str]] = {
    "child": ("儿童", "Child"),
    "elder": ("老人", "Elderly person"),
    "companion": ("同伴", "Companion"),
    "item": ("物品", "Item"),
}
Gender = Literal["male", "female"]
GENDER_WORDS: dict[str, tuple[str, str]] = {"male": ("男", "Male"), "female": ("女", "Female")}
Colour = Literal["red", "pink", "yellow", "green", "blue", "white", "black", "grey"]
COLOURS: tuple[str, ...] = get_args(Colour)
COLOUR_WORDS: dict[str, tuple[str, str]] = {
    "red": ("红色", "Red"), "pink": ("粉色", "Pink"), "yellow": ("黄色", "Yellow"), "green": ("绿色", "Green"),
    "blue": ("蓝色", "Blue"), "white": ("白色", "White"), "black": ("黑色", "Black"), "grey": ("灰色", "Grey"),
}
SEEN_MINUTES: tuple[int, ...] = (5, 15, 30, 60)  # "last seen … minutes ago": one touch, no clock to set
