"""The risk detector's lexicons: data, one block per language (en, es, ca, it).

Each entry is ``(pattern, flag, severity)``. Patterns are written naturally (accents, capitals and
apostrophes allowed); :mod:`anima.ai.risk` normalizes them exactly like the analysed text
(NFKC, casefold, accents removed, split into word tokens at spaces, hyphens and apostrophes).
Pattern syntax, token by token:

* ``word``  — the token must equal ``word``;
* ``word*`` — the token must start with ``word`` (``suicid*`` matches suicide, suicidal, suicida …);
* ``…``     — a gap of up to :data:`GAP_TOKENS` tokens (``want … die`` matches "want to just die").

Severity is ``high`` or ``medium``: any un-negated ``high`` match makes the text HIGH risk, any
``medium`` one MEDIUM (see :func:`anima.ai.risk.detect_risk`).

Negation cues (``NEGATIONS``) negate a match they precede within a few tokens of the same clause;
``POST_NEGATIONS`` negate a match they follow closely ("suicidal ideation: none"); ``SCOPE_BREAKERS``
stop a negation from reaching past them ("I can't *stop* thinking about killing myself" is not a
negation of the risk). ``CLAUSE_BREAKERS`` are words that end a clause like punctuation does.

These lists are a clinical screening aid, not a diagnosis. They favour recall: a third person's
or a historical mention ("her brother killed himself") is flagged too.
"""

from __future__ import annotations

from typing import Final, Literal

Severity = Literal["high", "medium"]
Entry = tuple[str, str, Severity]

#: the flags an assessment can carry
FLAGS: Final = (
    "SUICIDAL_IDEATION",
    "SELF_HARM",
    "HARM_TO_OTHERS",
    "ABUSE",
    "SUBSTANCE",
    "EATING_DISORDER",
    "CRISIS",
)
LANGUAGES: Final = ("en", "es", "ca", "it")
GAP_TOKENS: Final = 3

SI, SH, HO, AB, SU, ED, CR = FLAGS

LEXICONS: Final[dict[str, tuple[Entry, ...]]] = {
    "en": (
        ("kill myself", SI, "high"),
        ("killing myself", SI, "high"),
        ("end my life", SI, "high"),
        ("ending my life", SI, "high"),
        ("take my own life", SI, "high"),
        ("want … die", SI, "high"),
        ("wanna die", SI, "high"),
        ("don't want to live", SI, "high"),
        ("don't want to be alive", SI, "high"),
        ("no reason to live", SI, "high"),
        ("feel* suicidal", SI, "high"),
        ("suicidal thoughts", SI, "high"),
        ("suicidal ideation", SI, "high"),
        ("commit* suicide", SI, "high"),
        ("attempt* suicide", SI, "high"),
        ("suicid*", SI, "medium"),
        ("better off dead", SI, "medium"),
        ("wish i was dead", SI, "medium"),
        ("wish i were dead", SI, "medium"),
        ("better off without me", SI, "medium"),
        ("cut myself", SH, "high"),
        ("cutting myself", SH, "high"),
        ("burn* myself", SH, "high"),
        ("hurt* myself", SH, "high"),
        ("harm* myself", SH, "high"),
        ("self harm*", SH, "medium"),
        ("kill him", HO, "high"),
        ("kill her", HO, "high"),
        ("kill them", HO, "high"),
        ("hurt someone", HO, "high"),
        ("hurt him", HO, "high"),
        ("hurt her", HO, "high"),
        ("hits me", AB, "medium"),
        ("hit me", AB, "medium"),
        ("beats me", AB, "medium"),
        ("abuse*", AB, "medium"),
        ("abusive", AB, "medium"),
        ("raped", AB, "high"),
        ("molest*", AB, "high"),
        ("threaten* to kill me", AB, "high"),
        ("cocaine", SU, "medium"),
        ("heroin", SU, "medium"),
        ("relaps*", SU, "medium"),
        ("drunk every", SU, "medium"),
        ("drinking every day", SU, "medium"),
        ("overdos*", SU, "medium"),
        ("make myself vomit", ED, "medium"),
        ("make myself throw up", ED, "medium"),
        ("made myself throw up", ED, "medium"),
        ("starving myself", ED, "medium"),
        ("stopped eating", ED, "medium"),
        ("binge*", ED, "medium"),
        ("purging", ED, "medium"),
        ("laxatives", ED, "medium"),
        ("i have a plan", CR, "high"),
        ("goodbye letter", CR, "high"),
        ("suicide note", CR, "high"),
        ("take all … pills", CR, "high"),
        ("saving up … pills", CR, "high"),
        ("bought a rope", CR, "high"),
        ("gave away my things", CR, "high"),
        ("can't go on", CR, "medium"),
        ("can't take it anymore", CR, "medium"),
    ),
    "es": (
        ("quiero morir*", SI, "high"),
        ("ganas de morir*", SI, "high"),
        ("matarme", SI, "high"),
        ("quitarme la vida", SI, "high"),
        ("acabar con mi vida", SI, "high"),
        ("no quiero vivir", SI, "high"),
        ("no quiero seguir viviendo", SI, "high"),
        ("pensamientos suicidas", SI, "high"),
        ("ideación suicida", SI, "high"),
        ("suicid*", SI, "medium"),
        ("mejor muert*", SI, "medium"),
        ("ojalá estuviera muert*", SI, "medium"),
        ("desaparecer para siempre", SI, "medium"),
        ("cortarme", SH, "high"),
        ("me corto", SH, "high"),
        ("me he cortado", SH, "high"),
        ("hacerme daño", SH, "high"),
        ("autolesi*", SH, "medium"),
        ("matarlo", HO, "high"),
        ("matarla", HO, "high"),
        ("matarlos", HO, "high"),
        ("voy a matar*", HO, "high"),
        ("hacerle daño", HO, "high"),
        ("me pega", AB, "medium"),
        ("me pegó", AB, "medium"),
        ("maltrat*", AB, "medium"),
        ("abuso sexual", AB, "high"),
        ("abusó de mí", AB, "high"),
        ("me violó", AB, "high"),
        ("amenaz* con matarme", AB, "high"),
        ("cocaína", SU, "medium"),
        ("heroína", SU, "medium"),
        ("recaída", SU, "medium"),
        ("borrach*", SU, "medium"),
        ("bebo todos los días", SU, "medium"),
        ("sobredosis", SU, "medium"),
        ("provocarme el vómito", ED, "medium"),
        ("me provoco el vómito", ED, "medium"),
        ("vomitar después de comer", ED, "medium"),
        ("dejé de comer", ED, "medium"),
        ("atracon*", ED, "medium"),
        ("atracón", ED, "medium"),
        ("laxantes", ED, "medium"),
        ("tengo un plan", CR, "high"),
        ("carta de despedida", CR, "high"),
        ("despedirme de todos", CR, "high"),
        ("tomarme todas las pastillas", CR, "high"),
        ("guardando pastillas", CR, "high"),
        ("he comprado una cuerda", CR, "high"),
        ("no aguanto más", CR, "medium"),
        ("no puedo más", CR, "medium"),
    ),
    "ca": (
        ("vull morir*", SI, "high"),
        ("ganes de morir*", SI, "high"),
        ("matar-me", SI, "high"),
        ("treure'm la vida", SI, "high"),
        ("acabar amb la meva vida", SI, "high"),
        ("no vull viure", SI, "high"),
        ("no vull continuar vivint", SI, "high"),
        ("pensaments suïcides", SI, "high"),
        ("ideació suïcida", SI, "high"),
        ("suïcid*", SI, "medium"),
        ("millor mort*", SI, "medium"),
        ("tant de bo fos mort*", SI, "medium"),
        ("desaparèixer per sempre", SI, "medium"),
        ("tallar-me", SH, "high"),
        ("em tallo", SH, "high"),
        ("m'he tallat", SH, "high"),
        ("fer-me mal", SH, "high"),
        ("autolesi*", SH, "medium"),
        ("matar-lo", HO, "high"),
        ("matar-la", HO, "high"),
        ("matar-los", HO, "high"),
        ("el mataré", HO, "high"),
        ("la mataré", HO, "high"),
        ("fer-li mal", HO, "high"),
        ("em pega", AB, "medium"),
        ("em va pegar", AB, "medium"),
        ("maltract*", AB, "medium"),
        ("abús sexual", AB, "high"),
        ("em va violar", AB, "high"),
        ("amenaç* de matar-me", AB, "high"),
        ("cocaïna", SU, "medium"),
        ("heroïna", SU, "medium"),
        ("recaiguda", SU, "medium"),
        ("borratx*", SU, "medium"),
        ("bec cada dia", SU, "medium"),
        ("sobredosi", SU, "medium"),
        ("provocar-me el vòmit", ED, "medium"),
        ("em provoco el vòmit", ED, "medium"),
        ("vomitar després de menjar", ED, "medium"),
        ("he deixat de menjar", ED, "medium"),
        ("afartament*", ED, "medium"),
        ("laxants", ED, "medium"),
        ("tinc un pla", CR, "high"),
        ("carta de comiat", CR, "high"),
        ("acomiadar-me de tothom", CR, "high"),
        ("prendre totes les pastilles", CR, "high"),
        ("guardant pastilles", CR, "high"),
        ("he comprat una corda", CR, "high"),
        ("no puc més", CR, "medium"),
        ("no aguanto més", CR, "medium"),
    ),
    "it": (
        ("voglio morire", SI, "high"),
        ("voglia di morire", SI, "high"),
        ("uccidermi", SI, "high"),
        ("ammazzarmi", SI, "high"),
        ("togliermi la vita", SI, "high"),
        ("farla finita", SI, "high"),
        ("non voglio più vivere", SI, "high"),
        ("pensieri suicidi", SI, "high"),
        ("ideazione suicidaria", SI, "high"),
        ("suicid*", SI, "medium"),
        ("meglio mort*", SI, "medium"),
        ("vorrei essere mort*", SI, "medium"),
        ("sparire per sempre", SI, "medium"),
        ("tagliarmi", SH, "high"),
        ("mi taglio", SH, "high"),
        ("mi sono tagliat*", SH, "high"),
        ("farmi del male", SH, "high"),
        ("autolesion*", SH, "medium"),
        ("ucciderlo", HO, "high"),
        ("ucciderla", HO, "high"),
        ("ammazzarlo", HO, "high"),
        ("ammazzarla", HO, "high"),
        ("fargli del male", HO, "high"),
        ("farle del male", HO, "high"),
        ("mi picchia", AB, "medium"),
        ("mi ha picchiat*", AB, "medium"),
        ("maltratt*", AB, "medium"),
        ("abus* sessual*", AB, "high"),
        ("mi ha violentat*", AB, "high"),
        ("minacci* di uccidermi", AB, "high"),
        ("cocaina", SU, "medium"),
        ("eroina", SU, "medium"),
        ("ricaduta", SU, "medium"),
        ("ubriac*", SU, "medium"),
        ("bevo ogni giorno", SU, "medium"),
        ("overdose", SU, "medium"),
        ("mi faccio vomitare", ED, "medium"),
        ("vomitare dopo mangiato", ED, "medium"),
        ("smesso di mangiare", ED, "medium"),
        ("abbuffat*", ED, "medium"),
        ("lassativi", ED, "medium"),
        ("ho un piano", CR, "high"),
        ("lettera d'addio", CR, "high"),
        ("prendere tutte le pillole", CR, "high"),
        ("messo da parte … pillole", CR, "high"),
        ("ho comprato una corda", CR, "high"),
        ("non ce la faccio più", CR, "medium"),
        ("non reggo più", CR, "medium"),
    ),
}

#: words that negate a match they precede (within the negation window, same clause)
NEGATIONS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset({"not", "no", "never", "nor", "without", "denies", "denied", "deny", "denying", "none"}),
    "es": frozenset({"no", "nunca", "jamás", "ni", "sin", "niega", "negó", "tampoco", "ningún", "ninguna"}),
    "ca": frozenset({"no", "mai", "ni", "sense", "nega", "negà", "tampoc", "cap"}),
    "it": frozenset({"non", "mai", "senza", "nega", "negato", "neanche", "nemmeno", "neppure", "nessun", "nessuna"}),
}

#: words that negate a match they follow closely ("suicidal ideation: denied")
POST_NEGATIONS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset({"none", "negative", "denied", "absent"}),
    "es": frozenset({"negativa", "negativo", "negada", "negado", "ausente"}),
    "ca": frozenset({"negativa", "negatiu", "negada", "negat", "absent"}),
    "it": frozenset({"negativa", "negativo", "negata", "negato", "assente"}),
}

#: words that stop a preceding negation from reaching the match: "can't stop", "don't know why",
#: "no puc deixar de" — the negation belongs to them, not to the risk
SCOPE_BREAKERS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset({"stop", "help", "why", "that", "because", "if", "when", "but", "think", "deny"}),
    "es": frozenset({"dejar", "parar", "evitar", "que", "porque", "por", "cuando", "si", "pero"}),
    "ca": frozenset({"deixar", "parar", "evitar", "que", "perque", "quan", "si", "pero"}),
    "it": frozenset({"smettere", "smetto", "evitare", "che", "perche", "quando", "se", "ma"}),
}

#: words that end a clause like punctuation does
CLAUSE_BREAKERS: Final = frozenset({"but", "pero", "ma", "però", "però"})

#: frequent function words that tell the four languages apart (language detection votes)
STOPWORDS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset(
        "the and is are was were to of in it that this with for my me i you he she they have has not "
        "what want don't can't be been very about would today feel feeling just".split()
    ),
    "es": frozenset(
        "el la los las y es son fue está estoy de del en que con para por mi me yo tú él ella pero "
        "muy tengo quiero una un lo se su hoy ya cuando también he los desde porque así".split()
    ),
    "ca": frozenset(
        "el la els les i és són va està estic de del en que amb per meu meva em jo tu ell ella però "
        "molt tinc vull una un ho es seu avui ja quan també he els dels aquest això perquè més fa m'he".split()
    ),
    "it": frozenset(
        "il lo la gli le e è sono era sto di del della in che con per mio mia mi io tu lui lei ma "
        "molto ho voglio una un non si suo oggi già quando anche ha della questo perché più dopo sono cosa".split()
    ),
}
