"""The leads pipeline as pure rules: stages, which moves are valid, and freshness.

Stages: ``NEW`` → ``CONTACTED`` → ``QUALIFIED`` → ``CONVERTED``, or ``LOST`` with a reason.

Rules of a move (:func:`check_move`):

* between the open stages (``NEW``, ``CONTACTED``, ``QUALIFIED``) any move to another open stage
  is valid, forward or back (a card dragged to the wrong column is dragged back; a booked
  prospect may skip ``CONTACTED``);
* any open stage → ``LOST`` (a reason is required by the service);
* ``LOST`` reopens: ``LOST`` → an open stage (the prospect came back; the reason is cleared);
* ``CONVERTED`` is reached only through the conversion (:func:`anima.domains.leads.conversion.convert`),
  from an open stage, and is terminal: nothing leaves it;
* a move to the stage the lead is already in is refused.

Freshness (the ghost detector) is measured from the last contact, or from creation when the lead
was never contacted, for open leads only: under 24 h ``green``, 24 h to 72 h ``amber``, over 72 h
``gray``, over 7 days ``ghost``. Terminal leads (``CONVERTED``, ``LOST``) have no freshness.
"""

from __future__ import annotations

import datetime
import enum


class Stage(enum.StrEnum):
    """A lead's pipeline stage."""

    NEW = "NEW"
    CONTACTED = "CONTACTED"
    QUALIFIED = "QUALIFIED"
    CONVERTED = "CONVERTED"
    LOST = "LOST"


#: the stages in board order
STAGES = tuple(Stage)
OPEN_STAGES = frozenset({Stage.NEW, Stage.CONTACTED, Stage.QUALIFIED})
TERMINAL_STAGES = frozenset({Stage.CONVERTED})


class Freshness(enum.StrEnum):
    """How recently an open lead was contacted (see the module docstring)."""

    GREEN = "green"
    AMBER = "amber"
    GRAY = "gray"
    GHOST = "ghost"


#: bounds of the age: ``age < 24 h`` green, ``24 h <= age <= 72 h`` amber, ``72 h < age <= 7 d`` gray,
#: ``age > 7 d`` ghost
AMBER_AFTER = datetime.timedelta(hours=24)
GRAY_AFTER = datetime.timedelta(hours=72)
GHOST_AFTER = datetime.timedelta(days=7)


def move_error(current: str, target: str) -> str | None:
    """Why a move from ``current`` to ``target`` is invalid, or None when it is valid.

    ``target`` ``CONVERTED`` is refused here: conversion has its own function.
    """
    if current == target:
        return f"the lead is already {current}"
    if current == Stage.CONVERTED:
        return "a CONVERTED lead is final"
    if target == Stage.CONVERTED:
        return "a lead becomes CONVERTED through its conversion into a patient"
    if current == Stage.LOST and target not in OPEN_STAGES:
        return "a LOST lead reopens into NEW, CONTACTED or QUALIFIED"
    return None


def can_convert(current: str) -> bool:
    """Whether a lead in ``current`` may be converted: from an open stage only."""
    return current in OPEN_STAGES


def freshness(stage: str, last_contacted_at: datetime.datetime | None, created_at: datetime.datetime,
              now: datetime.datetime) -> Freshness | None:
    """The freshness of a lead at ``now`` (aware datetimes); None for a terminal lead."""
    if stage not in OPEN_STAGES:
        return None
    age = now - (last_contacted_at or created_at)
    if age > GHOST_AFTER:
        return Freshness.GHOST
    if age > GRAY_AFTER:
        return Freshness.GRAY
    if age >= AMBER_AFTER:
        return Freshness.AMBER
    return Freshness.GREEN
