"""Fixed lists the registry validates against: indicators, ethnic groups, kinds, periods."""

from __future__ import annotations

from services.registry.folding import fold
from shared.edge.dates import today_in_vietnam
from shared.periods import PeriodError, parse_period

# The 54 ethnic groups with their codes in the list of ethnic groups of Viet Nam
# (Decision 121-TCTK/PPCĐ of 2 March 1979). Kinh (01) is the majority; the other
# 53 are ethnic minorities. GSO's statistical list (Decision 1019/QĐ-TCTK, 2008)
# orders the same groups differently: codes from it must be translated first.
ETHNIC_GROUPS: dict[str, str] = {
    "01": "Kinh",
    "02": "Tày",
    "03": "Thái",
    "04": "Hoa",
    "05": "Khơ-me",
    "06": "Mường",
    "07": "Nùng",
    "08": "HMông",
    "09": "Dao",
    "10": "Gia-rai",
    "11": "Ngái",
    "12": "Ê-đê",
    "13": "Ba-na",
    "14": "Xơ-đăng",
    "15": "Sán Chay",
    "16": "Cơ-ho",
    "17": "Chăm",
    "18": "Sán Dìu",
    "19": "Hrê",
    "20": "Mnông",
    "21": "Ra-glai",
    "22": "Xtiêng",
    "23": "Bru-Vân Kiều",
    "24": "Thổ",
    "25": "Giáy",
    "26": "Cơ-tu",
    "27": "Gié-Triêng",
    "28": "Mạ",
    "29": "Khơ-mú",
    "30": "Co",
    "31": "Tà-ôi",
    "32": "Chơ-ro",
    "33": "Kháng",
    "34": "Xinh-mun",
    "35": "Hà Nhì",
    "36": "Chu-ru",
    "37": "Lào",
    "38": "La Chí",
    "39": "La Ha",
    "40": "Phù Lá",
    "41": "La Hủ",
    "42": "Lự",
    "43": "Lô Lô",
    "44": "Chứt",
    "45": "Mảng",
    "46": "Pà Thẻn",
    "47": "Cơ Lao",
    "48": "Cống",
    "49": "Bố Y",
    "50": "Si La",
    "51": "Pu Péo",
    "52": "Brâu",
    "53": "Ơ Đu",
    "54": "Rơ-măm",
}
MAJORITY_ETHNICITY = "01"
# Other names a province's file may use for a group.
_ETHNIC_ALIASES: dict[str, str] = {
    "Việt": "01",
    "Hán": "04",
    "Khmer": "05",
    "Mông": "08",
    "H'Mông": "08",
}


def _compact(text: str) -> str:
    return fold(text).replace("-", "").replace(" ", "").replace("'", "")


_ETHNICITY_BY_NAME: dict[str, str] = {
    **{_compact(name): code for code, name in ETHNIC_GROUPS.items()},
    **{_compact(alias): code for alias, code in _ETHNIC_ALIASES.items()},
}


def ethnicity_code(value: str | int) -> str | None:
    """The two-digit code for a code (`1`, `"01"`) or a group's name, else `None`."""
    text = str(value).strip()
    if text.isdigit():
        code = text.zfill(2)
        return code if code in ETHNIC_GROUPS else None
    return _ETHNICITY_BY_NAME.get(_compact(text))


def is_ethnic_minority(code: str) -> bool:
    return code != MAJORITY_ETHNICITY


SITE_KINDS: tuple[str, ...] = ("school", "learning_centre", "community", "agency")
CLUB_KINDS: tuple[str, ...] = ("school", "community")

# Classification names and the values each takes.
REGION_VALUES: tuple[str, ...] = ("I", "II", "III")
CLASSIFICATIONS: tuple[str, ...] = ("region", "especially_difficult")


def earliest_birth_year() -> int:
    return 1900


def latest_birth_year() -> int:
    return today_in_vietnam().year


def period_error(period: str) -> str | None:
    """Why `period` is not in the period grammar (shared with reporting), or `None`."""
    try:
        parse_period(period)
    except PeriodError as error:
        return str(error)
    return None
