"""Password hashing and policy (src/anima/identity/passwords.py; OWASP / ASVS §2.1, §2.4)."""

from __future__ import annotations

import unicodedata

import pytest
from argon2 import extract_parameters
from argon2 import Type

from anima.identity.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    WeakPassword,
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)

STRONG = "violet-Harbor-lantern-42"


def refusal(password: str, email: str | None = None) -> str | None:
    """The rule ``check_policy`` refuses ``password`` by, or None when it accepts it."""
    try:
        check_policy(password, email=email)
    except WeakPassword as weak:
        return weak.rule
    return None


def test_hash_is_argon2id_with_owasp_parameters() -> None:
    phc = hash_password(STRONG)
    assert phc.startswith("$argon2id$v=19$")
    assert "$m=19456,t=2,p=1$" in phc
    params = extract_parameters(phc)
    assert params.type is Type.ID
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19456, 2, 1)
    assert params.hash_len == 32 and params.salt_len == 16
    assert not needs_rehash(phc)


def test_hashes_are_salted() -> None:
    assert hash_password(STRONG) != hash_password(STRONG)


def test_verify_true_and_false() -> None:
    phc = hash_password(STRONG)
    assert verify_password(phc, STRONG) is True
    assert verify_password(phc, STRONG + "x") is False
    assert verify_password(phc, STRONG.upper()) is False
    assert verify_password(phc, "") is False


def test_verify_without_hash_or_with_garbage_is_false() -> None:
    assert verify_password(None, STRONG) is False
    assert verify_password(None, "anima-dummy-password-never-valid") is False
    assert verify_password("not-a-hash", STRONG) is False
    assert verify_password("$argon2id$v=19$m=19456,t=2,p=1$broken", STRONG) is False


def test_weaker_parameters_need_rehash() -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(STRONG)
    assert needs_rehash(weak)
    assert verify_password(weak, STRONG) is True


@pytest.mark.parametrize("password", ["password1", "qwertyuiop", "iloveyou", "PASSWORD1", "Qwertyuiop", "12345678", "baseball"])
def test_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        check_policy(password)
    assert caught.value.rule == "common"


def test_length_bounds() -> None:
    assert (MIN_LENGTH, MAX_LENGTH) == (8, 128)
    assert refusal("xK9#vq2") == "length"  # 7
    assert refusal("xK9#vq2m") is None  # 8
    assert refusal("xK9#vq2m" * 16) is None  # 128
    assert refusal("xK9#vq2m" * 16 + "z") == "length"  # 129


def test_empty_password_is_refused() -> None:
    with pytest.raises(WeakPassword) as caught:
        check_policy("")
    assert caught.value.rule == "length"


def test_spaces_are_kept_and_count() -> None:
    assert refusal("a b c d ") is None  # 8 characters including spaces
    assert refusal("a b c d") == "length"


@pytest.mark.parametrize("password", ["Ünïcödé-Pässwört", "пароль-надёжный-7", "密码很长很安全的句子", "🔒🗝️🔑-vault-Ω"])
def test_unicode_passwords_are_accepted_and_verify(password: str) -> None:
    assert refusal(password) is None
    phc = hash_password(password)
    assert verify_password(phc, password)


def test_unicode_is_nfkc_normalized() -> None:
    composed = "Caf\u00e9-terrasse-9"  # é precomposed
    decomposed = "Cafe\u0301-terrasse-9"  # e + combining acute
    assert composed != decomposed
    assert unicodedata.normalize("NFKC", composed) == unicodedata.normalize("NFKC", decomposed)
    phc = hash_password(composed)
    assert verify_password(phc, decomposed)
    fullwidth = "ｐａｓｓｗｏｒｄ１"  # NFKC -> "password1", a common password
    with pytest.raises(WeakPassword) as caught:
        check_policy(fullwidth)
    assert caught.value.rule == "common"


def test_length_is_counted_after_normalization() -> None:
    # U+FB03 LATIN SMALL LIGATURE FFI becomes "ffi" under NFKC: 6 code points -> 8 characters
    assert len("\ufb03xq7!Z") == 6 and len(unicodedata.normalize("NFKC", "\ufb03xq7!Z")) == 8
    assert refusal("\ufb03xq7!Z") is None


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("jonathan.smith@example.org", "jonathan.smith-2024!"),
        ("jonathan.smith@example.org", "My-JONATHAN.SMITH-pw"),
        ("therapist@clinic.example", "xx-therapist-xx"),
    ],
)
def test_email_local_part_is_refused(email: str, password: str) -> None:
    with pytest.raises(WeakPassword) as caught:
        check_policy(password, email=email)
    assert caught.value.rule == "contains-email"


def test_unrelated_email_does_not_refuse() -> None:
    """Only the email's own local part refuses: the same password passes for another address,
    without an address, and when the local part is shorter than 4 characters."""
    password = "violet-Harbor-maria-42"
    assert refusal(password, email="maria@example.org") == "contains-email"
    assert refusal(password, email="someone.else@example.org") is None
    assert refusal(password, email=None) is None
    assert refusal("violet-Harbor-al-42", email="al@example.org") is None
