"""EMAIL_URL is read into Django's EMAIL_* settings, and a value that cannot be read stops start-up."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import parse_email_url


def test_it_reads_an_smtp_url_with_starttls_and_encoded_credentials():
    assert parse_email_url("smtp://me%40example.org:p%3Ass@mail.example.org:587?tls=1") == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "mail.example.org",
        "EMAIL_PORT": 587, "EMAIL_HOST_USER": "me@example.org", "EMAIL_HOST_PASSWORD": "p:ss",
        "EMAIL_USE_TLS": True, "EMAIL_USE_SSL": False, "EMAIL_TIMEOUT": 10.0,
    }


def test_it_defaults_the_port_of_implicit_tls_and_reads_the_console():
    assert parse_email_url("smtps://mail.example.org")["EMAIL_PORT"] == 465
    assert parse_email_url("console://") == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}


@pytest.mark.parametrize("url", ["http://mail.example.org", "smtp://:25", "smtp://h:port", "smtp://h?tls=maybe",
                                 "smtp://h?tls=1&ssl=1", "smtp://h?tsl=1", "smtp://h?timeout=soon"])
def test_it_refuses_an_email_url_it_cannot_read(url):
    with pytest.raises(ImproperlyConfigured):
        parse_email_url(url)
