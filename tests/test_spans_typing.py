"""Span typing (issue 15). Before, "Willow Birth Centre" and "Fenwick Road" were typed
as persons (two capitalised words) and led who-answers, "the Mayor of X" was a place
(after "from"), "Regulation 2024" held a date, and "Friday" led the answer to "What time
does the last ferry leave in winter?". Now a name ending in a generic institution word
is an organisation, one ending in a generic place word a place, "the Mayor of X" a
title, a year right after a name's word part of the name, and a "What time ...?"
question asks for a clock time: a weekday or a season never leads its answer.
"""

from __future__ import annotations

from rag.answer.extractive import _typed
from rag.answer.factoid import value_first
from rag.answer.spans import answer_values, value_spans

BIRTH = (
    "It has a delivery suite with 10 rooms, and the midwife-led Willow Birth Centre with "
    "four rooms."
)
FERRY = (
    "Its chair, Donal Fife, said on Friday that islanders still faced a last sailing at "
    "7.30 p.m. in winter."
)


def _kinds(sentence: str) -> dict[str, str]:
    return {s.text: s.kind for s in value_spans(sentence)}


def test_institution_and_place_names_are_not_persons() -> None:
    assert _kinds(BIRTH)["Willow Birth Centre"] == "org"
    assert _kinds("Parents may park on Fenwick Road for free.")["Fenwick Road"] == "place"
    assert _kinds("Boats from Calder Bay landed 40 tonnes.")["Calder Bay"] == "place"
    assert (
        _kinds("The unit is run by the midwife Claire Dunmore.")["Claire Dunmore"] == "person"
    )  # a person's name is still one
    # a who-question is not answered by leading with the birth centre
    assert value_first(BIRTH, "Who leads the maternity unit?") is None


def test_a_title_and_the_year_of_a_name_are_no_place_and_no_date() -> None:
    """cm042: "the Mayor of Saint-Orvel" is a title, so the place asked for ("In which
    region ...?") is Brittany; rp001: "Regulation 2024" names the regulation."""
    letter = "A letter came from the Mayor of Saint-Orvel, the twin town in Brittany."
    assert _kinds(letter)["Mayor"] == "name"
    assert value_first(letter, "In which region is the twin town Saint-Orvel?").startswith(
        "Brittany"
    )
    report = "This is the first report under the Harwick Rental Regulation 2024."
    assert "2024" not in [v.text for v in answer_values("date", report, "When was it made?")]
    assert _kinds("In 2025, the forces held 20 talks.")["In 2025"] == "date"
    assert _kinds("The shed from 1962 flooded.")["from 1962"] == "date"


def test_a_time_question_is_answered_by_a_clock_time() -> None:
    q = "What time does the last ferry leave in winter?"
    assert [v.text for v in answer_values("date", FERRY, q)] == ["7.30 p.m."]
    lead = value_first(FERRY, q)
    assert lead is not None and lead.startswith("7.30 p.m."), lead
    # a sentence with only a season or a weekday does not hold the asked kind of value
    summer = "Ferries run six times a day in summer and three times a day in winter."
    assert _typed("date", q, summer, ()) < 1.0
    # other date questions still take weekdays and seasons
    assert _typed("date", "When does the ferry run?", summer, ()) == 1.0


def test_a_file_path_or_web_address_is_one_place_span() -> None:
    """ "in C:\\ProgramData\\..." was the place "C" and two names; now the path is the value."""
    from rag.answer.qualifiers import pick_value
    from rag.answer.spans import value_spans

    s = r"Its log is in /var/log/tarn/agent.log on Linux and in C:\ProgramData\Tarn\logs on Windows."
    spans = [(v.kind, v.text) for v in value_spans(s)]
    assert ("place", "/var/log/tarn/agent.log") in spans
    assert ("place", r"C:\ProgramData\Tarn\logs") in spans
    assert not any(t == "C" for _, t in spans)
    value = pick_value("place", "Where is the agent log on a Windows machine?", s)
    assert value is not None and value.text == r"C:\ProgramData\Tarn\logs"
    assert [v.text for v in value_spans("See https://example.org/docs/install.")] == [
        "https://example.org/docs/install"
    ]
    assert all(v.kind != "place" for v in value_spans("It rose by 3/4 on 12/05/2025."))


def test_the_questions_own_organisation_is_no_answer_to_who() -> None:
    """ "Who runs the field station?": "the Tarrach Field Station" (its head noun and most
    of its words asked) is what is asked about; "Brenmoor Hospital" for "Which hospital
    ...?" is still an answer, and "a Special Protection Area" names no one."""
    station = "The Tarrach Field Station is the only building in use on the island."
    assert answer_values("person", station, "Who runs the field station?") == []
    assert _typed("person", "Who runs the field station?", station, ()) < 1.0
    hospital = "Patients are sent to Brenmoor Hospital for scans."
    assert [v.text for v in answer_values("org", hospital, "Which hospital does scans?")] == [
        "Brenmoor Hospital"
    ]
    area = "The colony was designated a Special Protection Area in 1994."
    assert _kinds(area)["Special Protection Area"] == "name"
    assert _kinds("The survey was led by Dr Ruaridh Sinclair.")["Dr Ruaridh Sinclair"] == "person"


def test_an_organisations_name_word_is_no_rank_of_a_title() -> None:
    """ "geological" asked in lower case, "the Selvan Geological Survey" in the sentence:
    a survey office's name, not a title at another rank (rank_mismatch refused nh001)."""
    from rag.answer.spans import qualifier_mismatch

    sentence = (
        "The first geological map of Tarrach was drawn in 1962 by Dr Morag Ferrie of the "
        "Selvan Geological Survey."
    )
    assert not qualifier_mismatch("Who made the first geological map of Tarrach?", sentence)
    assert qualifier_mismatch("Who is the mayor?", "Deputy Mayor Colin Brask spoke first.")


def test_the_asker_is_no_name_nor_a_series_letter() -> None:
    """ "Once I've done 8,000 miles ...": "I've" gave the names feature a "ve" that no
    sentence holds, and the gate refused the question."""
    from rag.answer.qualifiers import question_qualifiers
    from rag.answer.spans import asked_names

    q = "Once I've done 8,000 business miles in my car, what's the rate per mile?"
    assert asked_names(q) == set() and question_qualifiers(q) == {"8000"}
    assert asked_names("Can I park in zone B?") == {"b"}


def test_a_users_own_amount_is_held_by_a_bound_it_meets_and_not_by_one_it_misses() -> None:
    from rag.answer.bounds import bounded_numbers

    claim = "My expense claim comes to £2,100. Who has to approve it?"
    assert bounded_numbers({"2100"}, "Claims over £2,000 need the Finance Director.", claim)
    assert bounded_numbers(
        {"6"}, "Staff with 5 to 9 years get 27 days.", "I've been here six years."
    )
    pension = "If I pay 3 percent into the pension, how much does the company add?"
    assert not bounded_numbers({"3"}, "It adds 7 percent if you pay at least 5 percent.", pension)
    # the question's own threshold asks about that threshold, not another one
    below = "What happens when free space falls below 20 percent?"
    assert not bounded_numbers({"20"}, "An alert is sent below 10 percent.", below)
    assert not bounded_numbers(
        {"2"}, "A first response within 1 hour for severity 1.", "For severity 2?"
    )
    # a bound on another thing holds nothing: days are no years
    ten = "What does the installer replace every ten years?"
    assert not bounded_numbers({"10"}, "Register it within 30 days of commissioning.", ten)
    assert bounded_numbers({"10"}, "Parts are replaced within 12 years.", ten)


def test_a_range_is_one_value_and_a_year_or_a_falling_pair_is_none() -> None:
    """ "50 to 70%" is the value, not "70%" with "50 to" typed as a quantity of "to"."""
    sentence = "Store it at 50 to 70% charge, between 5 and 15 °C, for 12 to 15 days."
    assert [v.text for v in answer_values("measure", sentence, "At what level?")] == [
        "50 to 70%",
        "5 and 15 °C",
        "12 to 15 days",
    ]
    texts = [
        v.text for v in answer_values("number", "It fell in 2024 and 12 percent in 2025.", "x")
    ]
    assert "12 percent" in texts and not any(t.startswith("2024") for t in texts)
    money = "spent in 2026/27 and 0.8 million euros in 2027/28"
    assert "0.8 million euros" in [v.text for v in answer_values("number", money, "How much?")]


def test_a_measure_asked_by_its_adjective_needs_a_value_of_that_dimension() -> None:
    """ "how steep" is a gradient, "how heavy" a weight: another measure holds no answer."""
    steep = "How steep a slope can the S35 climb?"
    assert _typed("measure", steep, "The blades keep turning for up to 4 seconds.", ()) < 0.6
    assert _typed("measure", steep, "It climbs slopes of up to 40%.", ()) == 1.0
    heavy = "How heavy is the X80?"
    assert _typed("measure", heavy, "The X80 runs for 90 minutes on one charge.", ()) < 0.6
    assert _typed("measure", heavy, "The X80 weighs 14.5 kg.", ()) == 1.0
    # "how fast" is answered by a speed or by a time ("within 30 minutes")
    fast = "How fast must a host answer a call?"
    assert _typed("measure", fast, "Answer a call within 30 minutes.", ()) == 1.0


def test_a_key_names_the_amount_after_its_colon_and_a_compound_names_its_first_word() -> None:
    """ "How much rain fell?" is counted by "Rainfall, April to July: 138 mm": the key says
    what the value is, and "rainfall" names rain. A code after the key is no amount."""
    q = "How much rain fell at the farm between April and July?"
    focus = ("rain", "fell")
    assert (
        _typed("number", q, "Rainfall, April to July, farm weather station: 138 mm", focus) == 1.0
    )
    assert _typed("number", q, "The farm's mean yield was 6.03 t/ha in 2025.", focus) < 0.6
    code = "What is the report number of the season report?"
    assert _typed("number", code, "Report number: HARS-R-2026-01", ("report",)) < 0.6


def test_people_are_counted_by_any_kind_of_person_and_one_kind_not_by_another() -> None:
    """ "How many people came?" is answered by "drew 88 visitors"; "How many residents"
    is not: visitors are people, not residents."""
    s = "The open day was held on Thursday 3 July 2025 and drew 88 visitors."
    assert _typed("number", "How many people came to the open day?", s, ("people", "came")) == 1.0
    assert _typed("number", "How many residents came?", s, ("resident", "came")) < 0.6


def test_a_where_answer_needs_a_locative_phrase_whose_object_is_no_time() -> None:
    from rag.answer.typed import locates

    assert locates("Find the serial number on the label under the carry handle.")
    assert locates("Electricity comes from 18 solar panels and a wind turbine.")
    assert not locates("The next annual general meeting will be held on Thursday 21 January 2027.")
    assert not locates("The desk opens at 9:00 every day.")
