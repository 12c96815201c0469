"""Phone number normalisation to E.164, the one format stored and dialed everywhere."""

import os

import phonenumbers

DEFAULT_REGION_ENV = "DIALER_DEFAULT_REGION"


class InvalidPhoneNumber(ValueError):
    """A phone number that cannot be parsed or is not a valid, dialable number."""


def default_region() -> str:
    """Region for numbers written without a country code (env DIALER_DEFAULT_REGION, else US)."""
    return os.environ.get(DEFAULT_REGION_ENV, "").strip().upper() or "US"


_KNOWN_VALID: dict[str, None] = {}
"""E.164 strings this process has recently found valid. A contact's phone is normalised on
import and validated again when the Contact model is built from it; this makes the second
check a dict lookup. Bounded: cleared when full."""
KNOWN_VALID_MAX = 200_000


def normalize_e164(raw: str, default_region: str = "US") -> str:
    """Return `raw` as E.164 (e.g. "+12125550100"), or raise InvalidPhoneNumber.

    National formats are read in `default_region`. "+44 ..." always works, and so does the
    "00 44 ..." international prefix even in regions (like the US) whose own prefix is "011".
    """
    text = raw.strip()
    if text in _KNOWN_VALID:
        return text
    if not text:
        raise InvalidPhoneNumber("missing phone number")
    region = default_region.strip().upper()
    number = _parse_valid(text, region)
    if number is None and text.startswith("00"):
        number = _parse_valid("+" + text[2:], region)
    if number is None:
        raise InvalidPhoneNumber(f"not a valid phone number for region {region}: {raw!r}")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if len(_KNOWN_VALID) >= KNOWN_VALID_MAX:
        _KNOWN_VALID.clear()
    _KNOWN_VALID[e164] = None
    return e164


def _parse_valid(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # Most numbers belong to the default region: checking that one region first is much
    # cheaper than is_valid_number, which first searches every region sharing the country
    # code (25 for +1). A number valid for the region is valid, so the answer is the same.
    if number.country_code == phonenumbers.country_code_for_region(
        region
    ) and phonenumbers.is_valid_number_for_region(number, region):
        return number
    return number if phonenumbers.is_valid_number(number) else None
