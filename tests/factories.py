import uuid

import factory
from django.contrib.auth import get_user_model

from projects.models import Membership, Project, Role
from projects.services import IssuedKey, api_key_create
from tracking.models import Dataset


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.LazyFunction(lambda: f"user-{uuid.uuid4().hex[:10]}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct-horse-battery")


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    slug = factory.LazyFunction(lambda: f"project-{uuid.uuid4().hex[:10]}")
    name = factory.LazyAttribute(lambda project: project.slug.title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"dataset_{n}")


def key_for(project: Project, *scopes: str) -> IssuedKey:
    return api_key_create(project=project, name="test key", scopes=list(scopes) or ["write", "read"])
