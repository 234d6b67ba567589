"""factory_boy factories for rows whose making is not the behaviour under test.

Questions, priors, predictions and posteriors are made through the services (tests/conftest.py), because their rules
are what the tests pin; users and plain comments have no rules worth going around, so they come from here.
"""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from forecasts.models import Evidence


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True  # the hook below adds a group; the user row itself needs no second save

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass-word-123")

    @factory.post_generation
    def organizer(self, create, extracted, **kwargs):
        """`UserFactory(organizer=True)`: a member of the `organizers` group."""
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name="organizers")[0])


class EvidenceFactory(factory.django.DjangoModelFactory):
    """A comment on a question; pass `question` (and `author`, or one is made)."""

    class Meta:
        model = Evidence

    author = factory.SubFactory(UserFactory)
    body = factory.Sequence(lambda n: f"argument {n}")
