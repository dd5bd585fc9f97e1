"""The system templates shipped with Anima, in English, Spanish, Catalan and Italian.

* ``intake`` — a general intake: names, email, phone, birth date and language (mapped to the
  person's details), the reason for consulting, earlier therapy and how they found the practice;
* ``consent`` — consent to care and to the processing of personal and health data;
* ``phq9`` — the Patient Health Questionnaire-9 (depression), scored by
  :func:`anima.domains.forms.scoring.score_phq9`;
* ``gad7`` — the Generalized Anxiety Disorder-7 scale, scored by
  :func:`anima.domains.forms.scoring.score_gad7`.

The PHQ-9 and GAD-7 wording follows the published instruments (Pfizer's public-domain versions and
their official translations, lightly abridged in the instructions). Each template has a
``version``: changing a template's text here means raising it, and an organization's copy of an
older version keeps answering as it was (a submission keeps the version it answered).
"""

from __future__ import annotations

from dataclasses import dataclass

from anima.domains.forms.definitions import FieldDef, FormDefinition, Option, check_definition

LANGUAGES = ("en", "es", "ca", "it")
SYSTEM_KEYS = ("intake", "consent", "phq9", "gad7")
#: the version of each system template's text
VERSIONS = {"intake": 1, "consent": 1, "phq9": 1, "gad7": 1}

# -- the measures ---------------------------------------------------------------------------------

_FREQUENCY = {
    "en": ("Not at all", "Several days", "More than half the days", "Nearly every day"),
    "es": ("Nunca", "Varios días", "Más de la mitad de los días", "Casi todos los días"),
    "ca": ("Mai", "Alguns dies", "Més de la meitat dels dies", "Gairebé cada dia"),
    "it": ("Mai", "Diversi giorni", "Più della metà dei giorni", "Quasi ogni giorno"),
}
_STEM = {
    "en": "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    "es": "Durante las últimas 2 semanas, ¿con qué frecuencia le han molestado los siguientes problemas?",
    "ca": "Durant les últimes 2 setmanes, amb quina freqüència us han molestat els problemes següents?",
    "it": "Nelle ultime 2 settimane, con quale frequenza è stato/a disturbato/a da ciascuno dei seguenti problemi?",
}
_PHQ9 = {
    "en": (
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so fidgety or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    "es": (
        "Poco interés o placer en hacer cosas",
        "Se ha sentido decaído/a, deprimido/a o sin esperanzas",
        "Dificultad para quedarse o permanecer dormido/a, o ha dormido demasiado",
        "Se ha sentido cansado/a o con poca energía",
        "Sin apetito o ha comido en exceso",
        "Se ha sentido mal con usted mismo/a — o que es un fracaso o que ha quedado mal con usted mismo/a o con su familia",
        "Ha tenido dificultad para concentrarse en ciertas actividades, tales como leer el periódico o ver la televisión",
        "¿Se ha movido o hablado tan lento que otras personas podrían haberlo notado? O lo contrario — muy inquieto/a o agitado/a, moviéndose mucho más de lo normal",
        "Pensamientos de que estaría mejor muerto/a o de lastimarse de alguna manera",
    ),
    "ca": (
        "Poc interès o plaer a fer coses",
        "Us heu sentit decaigut/da, deprimit/da o sense esperança",
        "Dificultat per adormir-vos o per mantenir el son, o dormir massa",
        "Us heu sentit cansat/da o amb poca energia",
        "Poca gana o menjar massa",
        "Us heu sentit malament amb vós mateix/a — o que sou un fracàs o que us heu fallat a vós o a la vostra família",
        "Dificultat per concentrar-vos en coses com llegir el diari o mirar la televisió",
        "Us heu mogut o parlat tan a poc a poc que altres persones ho podrien haver notat? O al contrari — tan inquiet/a o agitat/a que us heu mogut molt més del normal",
        "Pensaments que estaríeu millor mort/a o de fer-vos mal d'alguna manera",
    ),
    "it": (
        "Scarso interesse o piacere nel fare le cose",
        "Sentirsi giù, depresso/a o disperato/a",
        "Problemi ad addormentarsi o a dormire tutta la notte senza svegliarsi, o a dormire troppo",
        "Sentirsi stanco/a o avere poca energia",
        "Scarso appetito o mangiare troppo",
        "Avere una scarsa opinione di sé, o sentirsi un/una fallito/a o aver deluso sé stesso/a o la propria famiglia",
        "Difficoltà a concentrarsi su qualcosa, come leggere il giornale o guardare la televisione",
        "Muoversi o parlare così lentamente da poter essere notato/a da altre persone? O, al contrario, essere così irrequieto/a da muoversi molto più del solito",
        "Pensare che sarebbe meglio morire o farsi del male in un modo o nell'altro",
    ),
}
_GAD7 = {
    "en": (
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    "es": (
        "Se ha sentido nervioso/a, ansioso/a o con los nervios de punta",
        "No ha sido capaz de parar o controlar su preocupación",
        "Se ha preocupado demasiado por motivos diferentes",
        "Ha tenido dificultad para relajarse",
        "Se ha sentido tan inquieto/a que no ha podido quedarse quieto/a",
        "Se ha molestado o irritado fácilmente",
        "Ha tenido miedo de que algo terrible fuera a pasar",
    ),
    "ca": (
        "Us heu sentit nerviós/osa, ansiós/osa o amb els nervis a flor de pell",
        "No heu pogut aturar o controlar la preocupació",
        "Us heu preocupat massa per coses diferents",
        "Dificultat per relaxar-vos",
        "Tan inquiet/a que costa estar-se quiet/a",
        "Us heu molestat o irritat fàcilment",
        "Por, com si pogués passar alguna cosa terrible",
    ),
    "it": (
        "Sentirsi nervoso/a, ansioso/a o teso/a",
        "Non riuscire a smettere di preoccuparsi o a tenere sotto controllo le preoccupazioni",
        "Preoccuparsi troppo per varie cose",
        "Avere difficoltà a rilassarsi",
        "Essere talmente irrequieto/a da far fatica a stare seduto/a fermo/a",
        "Infastidirsi o irritarsi facilmente",
        "Avere paura che possa succedere qualcosa di terribile",
    ),
}
_TITLES = {
    "phq9": {"en": "PHQ-9 (mood questionnaire)", "es": "PHQ-9 (cuestionario sobre el estado de ánimo)",
             "ca": "PHQ-9 (qüestionari sobre l'estat d'ànim)", "it": "PHQ-9 (questionario sull'umore)"},
    "gad7": {"en": "GAD-7 (anxiety questionnaire)", "es": "GAD-7 (cuestionario sobre la ansiedad)",
             "ca": "GAD-7 (qüestionari sobre l'ansietat)", "it": "GAD-7 (questionario sull'ansia)"},
    "intake": {"en": "Intake form", "es": "Formulario de primera visita", "ca": "Formulari de primera visita",
               "it": "Modulo di prima visita"},
    "consent": {"en": "Consent form", "es": "Formulario de consentimiento", "ca": "Formulari de consentiment",
                "it": "Modulo di consenso"},
}


def _measure(key: str, items: dict[str, tuple[str, ...]], language: str) -> FormDefinition:
    options = [Option(str(i), label) for i, label in enumerate(_FREQUENCY[language])]
    fields = [
        FieldDef(key=f"item_{n}", type="single_choice", label=text, required=True, options=options)
        for n, text in enumerate(items[language], start=1)
    ]
    return FormDefinition(title=_TITLES[key][language], language=language, intro=_STEM[language], fields=fields, measure=key)  # type: ignore[arg-type]


# -- intake and consent ---------------------------------------------------------------------------

_INTAKE = {
    #      first name, last name, email, phone, birth date, language, reason, reason help, before, found us, section
    "en": ("First name", "Last name", "Email", "Phone", "Date of birth", "Preferred language",
           "What brings you here?", "In your own words; share only what you are comfortable with.",
           "Have you been in therapy before?", "How did you hear about us?", "About you", "Your consultation",
           "Please tell us a little about yourself before your first session."),
    "es": ("Nombre", "Apellidos", "Correo electrónico", "Teléfono", "Fecha de nacimiento", "Idioma preferido",
           "¿Qué te trae por aquí?", "Con tus palabras; comparte solo lo que te resulte cómodo.",
           "¿Has hecho terapia antes?", "¿Cómo nos has conocido?", "Sobre ti", "Tu consulta",
           "Cuéntanos un poco sobre ti antes de la primera sesión."),
    "ca": ("Nom", "Cognoms", "Correu electrònic", "Telèfon", "Data de naixement", "Idioma preferit",
           "Què et porta aquí?", "Amb les teves paraules; comparteix només allò amb què et sentis còmode/a.",
           "Has fet teràpia abans?", "Com ens has conegut?", "Sobre tu", "La teva consulta",
           "Explica'ns una mica sobre tu abans de la primera sessió."),
    "it": ("Nome", "Cognome", "Email", "Telefono", "Data di nascita", "Lingua preferita",
           "Che cosa ti porta qui?", "Con parole tue; condividi solo ciò che ti fa sentire a tuo agio.",
           "Hai già fatto terapia in passato?", "Come ci hai conosciuto?", "Su di te", "La tua consulenza",
           "Raccontaci qualcosa di te prima della prima seduta."),
}
_LANGUAGE_NAMES = {"en": "English", "es": "Español", "ca": "Català", "it": "Italiano"}


def _intake(language: str) -> FormDefinition:
    t = _INTAKE[language]
    fields = [
        FieldDef(key="about", type="section", label=t[10]),
        FieldDef(key="first_name", type="short_text", label=t[0], required=True, maps_to="first_name"),
        FieldDef(key="last_name", type="short_text", label=t[1], maps_to="last_name"),
        FieldDef(key="email", type="email", label=t[2], required=True, maps_to="email"),
        FieldDef(key="phone", type="phone", label=t[3], maps_to="phone"),
        FieldDef(key="birth_date", type="date", label=t[4], maps_to="birth_date"),
        FieldDef(key="language", type="single_choice", label=t[5], maps_to="language",
                 options=[Option(code, name) for code, name in _LANGUAGE_NAMES.items()]),
        FieldDef(key="consultation", type="section", label=t[11]),
        FieldDef(key="reason", type="long_text", label=t[6], help=t[7]),
        FieldDef(key="previous_therapy", type="yes_no", label=t[8]),
        FieldDef(key="referral", type="short_text", label=t[9]),
    ]
    return FormDefinition(title=_TITLES["intake"][language], language=language, intro=t[12], fields=fields)  # type: ignore[arg-type]


_CONSENT = {
    "en": ("Full name", "I agree to receive care from this practice and understand how sessions work, including cancellations.",
           "I agree that this practice keeps my personal and health data to provide my care, as its privacy notice explains.",
           "Please read and confirm before your first session."),
    "es": ("Nombre completo", "Acepto recibir atención de este centro y entiendo cómo funcionan las sesiones, incluidas las cancelaciones.",
           "Acepto que este centro conserve mis datos personales y de salud para atenderme, tal como explica su aviso de privacidad.",
           "Lee y confirma antes de tu primera sesión."),
    "ca": ("Nom complet", "Accepto rebre atenció d'aquest centre i entenc com funcionen les sessions, incloses les cancel·lacions.",
           "Accepto que aquest centre conservi les meves dades personals i de salut per atendre'm, tal com explica el seu avís de privacitat.",
           "Llegeix i confirma abans de la primera sessió."),
    "it": ("Nome e cognome", "Accetto di ricevere assistenza da questo studio e ho compreso come funzionano le sedute, comprese le disdette.",
           "Accetto che questo studio conservi i miei dati personali e sanitari per assistermi, come spiega la sua informativa sulla privacy.",
           "Leggi e conferma prima della prima seduta."),
}


def _consent(language: str) -> FormDefinition:
    t = _CONSENT[language]
    fields = [
        FieldDef(key="full_name", type="short_text", label=t[0], required=True),
        FieldDef(key="care", type="consent", label=t[1], required=True),
        FieldDef(key="data", type="consent", label=t[2], required=True),
    ]
    return FormDefinition(title=_TITLES["consent"][language], language=language, intro=t[3], fields=fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SystemTemplate:
    """A system template: its ``key``, ``version`` and title per language."""

    key: str
    version: int
    titles: dict[str, str]


def system_definition(key: str, language: str) -> FormDefinition:
    """The definition of system template ``key`` in ``language`` (checked).

    Raises:
        KeyError: an unknown key or language.
    """
    if language not in LANGUAGES:
        raise KeyError(language)
    build = {"intake": _intake, "consent": _consent}
    if key in build:
        definition = build[key](language)
    elif key == "phq9":
        definition = _measure("phq9", _PHQ9, language)
    elif key == "gad7":
        definition = _measure("gad7", _GAD7, language)
    else:
        raise KeyError(key)
    return check_definition(definition, system=True)


def system_templates() -> list[SystemTemplate]:
    """Every system template with its titles in the four languages."""
    return [SystemTemplate(k, VERSIONS[k], dict(_TITLES[k])) for k in SYSTEM_KEYS]
