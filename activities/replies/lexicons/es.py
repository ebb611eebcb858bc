"""Spanish words of the reply classifier (folded; notation in ``activities.replies.lexicon``)."""

from __future__ import annotations

from activities.replies.lexicon import Lexicon

_STOP_IT = r"(?:dejen|deja|dejad|paren|para|parad)"
_WRITE_ME = r"(?:escribirme|contactarme|mandarme\w*|molestarme)"
_CALL_ME = r"(?:llamarme|telefonearme)"

# fmt: off
LEXICON = Lexicon(
    language="es",
    opt_out_whole=frozenset(
        {
            "baja", "cancelar", "no mas mensajes", "no mas sms", "darme de baja",
            "dar de baja", "de baja", "parar", "alto",
        }
    ),
    politeness=frozenset({"por", "favor", "gracias"}),
    opt_out_anywhere=(),
    opt_out_sentence=(
        # Calls *and* something else: the channel the reply came on (one channel only).
        rf"{_STOP_IT} de {_CALL_ME} (?:y|ni|o) (?:de )?{_WRITE_ME}",
        r"no me (?:llamen|llames) (?:ni|y no|o) (?:me )?(?:escriban|escribas|manden|envien)",
        r"no me (?:escriban|escribas|contacten|contactes|manden|envien|molesten)(?: \w+)? mas",
        rf"{_STOP_IT} de {_WRITE_ME}",
        r"no quiero (?:recibir )?mas (?:mensajes|sms|correos)",
        r"darme de baja", r"denme de baja",
    ),
    opt_out_calls=(
        r"no me (?:llamen|llames|llameis|telefoneen|telefonees)(?: (?:mas|nunca|nunca mas))?",
        r"no me (?:vuelvan|vuelvas|volvais) a llamar",
        rf"{_STOP_IT} de (?:{_CALL_ME}|llamar)",
        r"no mas llamadas", r"no quiero (?:recibir )?(?:mas )?llamadas",
        r"basta de llamadas", r"(?:ni una|ninguna) llamada mas",
        r"no me (?:contacten|contactes)(?: mas)? por telefono",
    ),
    negations=(r"no (?:me |te |se |nos |les? )?", r"no quiero "),
    dispute=(
        r"no es mi deuda", r"no (?:les |le )?debo", r"no tengo ninguna deuda",
        r"(?:importe|monto|cantidad) (?:incorrect[oa]|erroneo)", r"es un error", r"impugno",
        r"disputo", r"reclamo",
    ),
    paid=(
        r"ya (?:lo )?(?:pague|abone|page)", r"(?:ya )?(?:he|hemos) (?:pagado|abonado)",
        r"ya (?:esta|estaba) pagad[oa]", r"ya (?:hice|realice) (?:el pago|la transferencia)",
        r"pague ayer",
    ),
    pay_intent=(
        r"voy a (?:pagar|abonar|depositar|transferir)",
        r"(?:les |le )?pagare",
        r"pagaremos",
        r"abonare",
        r"pag(?:ar|o)",
        r"abonar",
        r"transferencia",
        r"deposit(?:ar|are|o)",
    ),
    negated_pay=(r"no (?:puedo|voy a|pienso) pagar", r"no (?:pagare|pago)"),
    callback=(
        r"llamenme", r"llamame", r"me (?:pueden |puede )?llam(?:ar|en|a)", r"pueden llamarme",
        r"hablar con (?:alguien|un agente|una persona|un asesor)",
    ),
    payment_link=(
        r"como (?:puedo |debo )?pag(?:ar|o)", r"(?:enlace|link) de pago", r"el (?:enlace|link)",
        r"(?:mandenme|envienme|manden|envien) (?:el |un )?(?:enlace|link)",
        r"donde (?:puedo )?pag(?:ar|o)", r"numero de cuenta",
    ),
    currency_words=(r"euros?",),
    pay_verbs=("pagar", "pagare", "pago", "abonare", "pagado", "pague"),
    pay_pronouns=("les",),
    duration_units=(r"dias", r"semanas", r"mes(?:es)?"),
    weekdays=("lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo"),
    months={
        "enero": 1, "ene": 1, "febrero": 2, "feb": 2, "marzo": 3, "mar": 3, "abril": 4,
        "abr": 4, "mayo": 5, "may": 5, "junio": 6, "jun": 6, "julio": 7, "jul": 7,
        "agosto": 8, "ago": 8, "septiembre": 9, "setiembre": 9, "sept": 9, "sep": 9,
        "octubre": 10, "oct": 10, "noviembre": 11, "nov": 11, "diciembre": 12, "dic": 12,
    },
    next_before=("(?:el |la )?proxim[oa]",),
    next_after=("proxim[oa]", "que viene"),
    day_prefixes=("el", "al", "para el", "hasta el", "el dia"),
    ordinal_suffixes=("o", "°"),
    end_of_month=(r"(?:a |para )?(?:finales|fin|final) de(?:l)? mes",),
    date_rewrites=(
        (("pasado manana",), "en 2 dias"),
        (("(?:la )?semana que viene", "(?:la )?proxima semana", "(?:la )?semana proxima"),
         "en 7 dias"),
        (("(?:el )?mes que viene", "(?:el )?proximo mes", "(?:el )?mes proximo"), "en 1 mes"),
    ),
)
# fmt: on
