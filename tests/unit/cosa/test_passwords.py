import pytest

from cosa.auth import common_passwords, password_problem


def test_the_common_password_list_is_shipped():
    assert len(common_passwords()) >= 9900
    assert "password" in common_passwords()


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "🐉 dragons like tea 🍵", "           x  x", "é" * 12, "a" * 128],
)
def test_long_passwords_of_any_characters_are_accepted(password):
    assert password_problem(password) is None


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 12"),
        ("a" * 129, "128 characters or fewer"),
        ("qwerty123456", "too easy"),
        ("LeaveMeAlone", "too easy"),
        ("1qaz2wsx3edc", "too easy"),
    ],
)
def test_short_long_and_common_passwords_are_refused(password, reason):
    problem = password_problem(password)
    assert problem is not None and reason in problem


def test_the_email_address_is_not_a_password():
    assert password_problem("someone@example.org", "someone@example.org") is not None
