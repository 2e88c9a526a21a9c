"""Volunteers: their application, vetting, training, profile, availability and supervision."""

from __future__ import annotations

import enum

from piccolo.columns import (
    JSON,
    UUID,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from cosa.tables import Region, User


class VolunteerStatus(enum.StrEnum):
    applicant = "applicant"
    in_vetting = "in_vetting"
    trained = "trained"
    active = "active"
    resting = "resting"
    left = "left"


class Volunteer(Table, tablename="volunteers_volunteer"):
    id = Serial(primary_key=True)
    public_id = UUID(unique=True, index=True)
    region = ForeignKey(references=Region, index=True, on_delete=OnDelete.restrict)
    # The login, created by invitation once the volunteer is taken on; empty while they are an applicant.
    user = ForeignKey(references=User, null=True, unique=True, on_delete=OnDelete.set_null)
    display_name = Varchar(length=120)
    email = Varchar(length=254)
    phone = Varchar(length=40, default="")
    status = Varchar(length=12, choices=VolunteerStatus, default=VolunteerStatus.applicant.value, index=True)
    status_changed_at = Timestamptz()
    applied_on = Date()
    left_reason = Varchar(length=40, default="")  # a code, e.g. "application_not_taken_forward"
    gender = Varchar(length=20, default="")
    languages = JSON(default="[]")  # ISO 639-1 codes
    home_district = Varchar(length=8, default="")  # postcode district, e.g. NG7
    max_circles = Integer(default=2)
    availability = JSON(default="[]")  # slots such as "mon-evening"
    declared_connections = Text(default="")
    declared_districts = JSON(default="[]")  # postcode districts of family, community or past links
    interview_on = Date(null=True, default=None)
    reference_1_received_on = Date(null=True, default=None)
    reference_2_received_on = Date(null=True, default=None)
    dbs_certificate_on = Date(null=True, default=None)
    training_core_on = Date(null=True, default=None)
    training_msht_on = Date(null=True, default=None)
    training_trauma_on = Date(null=True, default=None)
    created_at = Timestamptz()
    # When retention removed the personal data of a rejected application (circles/retention.py).
    anonymised_at = Timestamptz(null=True, default=None)


class VolunteerStatusChange(Table, tablename="volunteers_status_change"):
    id = Serial(primary_key=True)
    volunteer = ForeignKey(references=Volunteer, index=True, on_delete=OnDelete.cascade)
    from_status = Varchar(length=12, default="")
    to_status = Varchar(length=12)
    changed_at = Timestamptz()
    changed_by = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    reason = Varchar(length=40, default="")


class SupervisionSession(Table, tablename="volunteers_supervision"):
    """A supervision session with the coordinator; its notes are for coordinators only."""

    id = Serial(primary_key=True)
    public_id = UUID(unique=True)
    volunteer = ForeignKey(references=Volunteer, index=True, on_delete=OnDelete.cascade)
    coordinator = ForeignKey(references=User, null=True, on_delete=OnDelete.set_null)
    held_on = Date()
    notes = Text(default="")
    created_at = Timestamptz()
