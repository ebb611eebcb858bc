"""English words of the reply classifier (folded; notation in ``activities.replies.lexicon``)."""

from __future__ import annotations

from activities.replies.lexicon import Lexicon

# Ways to contact someone other than calling (calls are the voicemail channel).
_CONTACT = r"(?:text(?:ing)?|messag(?:e|ing)|contact(?:ing)?|email(?:ing)?|writ(?:e|ing)|sms)"
_CALL = r"(?:call|phone|ring)"
_CALLING = r"(?:calling|phoning|ringing)"
# "why don't you call me?", "if you don't call me back", "I don't call" are not opt-outs.
_NOT_A_REQUEST = r"(?<!\byou\x20)(?<!\bu\x20)(?<!\bif\x20)(?<!\bi\x20)(?<!\bwe\x20)(?<!\bwhy\x20)"

# fmt: off
LEXICON = Lexicon(
    language="en",
    opt_out_whole=frozenset(
        {
            "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "revoke",
            "optout", "opt out", "stop sms", "stop texts", "stop text", "stop messages",
            "unsubscribe me", "remove me", "opt me out",
        }
    ),
    politeness=frozenset(
        {"please", "pls", "plz", "thanks", "thank", "you", "thx", "now", "ok", "okay"}
    ),
    opt_out_anywhere=("stop", "stopall", "unsubscribe", "opt-out"),
    opt_out_sentence=(
        # Calls *and* something else: the channel the reply came on (one channel only).
        rf"(?:stop|quit) {_CALLING} (?:and|or|&|nor) {_CONTACT}",
        rf"(?:don't|do not|never) {_CALL} (?:or|and|nor) {_CONTACT}",
        r"no more (?:phone )?calls (?:or|and|nor) (?:texts|messages|sms|emails)",
        rf"stop {_CONTACT}",
        rf"(?:don't|do not|never) {_CONTACT} (?:me|us)",
        r"remove (?:me|my number) from (?:your|the|this) (?:list|system|database)",
        r"take me off (?:your|the|this) list",
        r"no more (?:texts|messages|sms|emails)",
        r"leave me alone",
    ),
    opt_out_calls=(
        rf"{_NOT_A_REQUEST}(?:don't|do not)(?: ever)? {_CALL}"
        r"(?: (?:me|us|this number|my (?:phone|number|cell|mobile)))?",
        rf"{_NOT_A_REQUEST}never(?: ever)? {_CALL} (?:me|us|this number)",
        rf"(?:stop|quit|cease) {_CALLING}(?: (?:me|us|this number))?",
        r"stop (?:the|these|your|all|all the|all these|with the) (?:phone )?calls",
        r"no more (?:phone )?calls", r"no phone calls", r"no calls please",
        r"(?:don't|do not) want (?:any )?(?:more )?(?:phone )?calls",
        r"(?:don't|do not|never) (?:contact|bother) (?:me|us) (?:by|on|via|over the) "
        r"(?:phone|telephone)",
        r"(?:take|remove) (?:me|my number) (?:off|from) (?:your|the) call(?:ing)? list",
    ),
    negations=(
        r"(?:don't|do not|didn't|did not|doesn't|does not|won't|will not|never|not|needn't"
        r"|no need to|(?:don't|do not) (?:want|need|have) to)(?: ever| you)? ",
    ),
    dispute=(
        r"not my (?:debt|bill|account|invoice|loan)",
        r"(?:it's|this is|that's) not mine",
        r"i (?:don't|do not) owe", r"i owe (?:you )?nothing", r"wrong (?:amount|person|number)",
        r"(?:amount|balance|bill|invoice) is (?:wrong|incorrect|not correct)",
        r"i (?:dispute|contest)", r"disput(?:e|ing) (?:this|the|it)",
        r"this is (?:a )?(?:scam|fraud)",
        r"never (?:had|signed|opened|ordered|took)",
    ),
    paid=(
        r"already (?:paid|settled|sent)", r"i(?:'ve| have)? (?:paid|settled)(?! you back)",
        r"(?:it's|it is|it was|this (?:is|was)|bill (?:is|was)) (?:already )?(?:paid|settled)",
        r"(?:payment|transfer) (?:was |has been )?(?:made|sent|done)", r"paid in full",
    ),
    pay_intent=(
        r"(?:i|we)(?:'ll| will| can| could| shall)(?: \w+)? pay",
        r"ill pay",
        r"(?:going to|gonna|plan to|planning to|promise to) pay",
        r"(?:will|can) pay",
        r"pay(?:ing|ment|ments)?",
        r"(?:i|we)?(?:'ll| will) send (?:the |you )?(?:money|payment|it)",
    ),
    negated_pay=(
        r"(?:can't|cannot|can not|won't|will not|unable to|not able to) (?:\w+ )?pay",
    ),
    callback=(
        r"call me", r"please call", r"call (?:me )?back",
        r"can (?:someone|somebody|you|anyone) call", r"give me a (?:call|ring)", r"ring me",
        r"phone me",
        r"(?:speak|talk) (?:to|with) (?:someone|somebody|a person|a human|an agent|an advisor"
        r"|you)",
    ),
    payment_link=(
        r"how (?:can|do|should|could) (?:i|we) pay", r"how to pay",
        r"where (?:can|do) (?:i|we) pay", r"send (?:me |us )?(?:the |a )?(?:payment )?link",
        r"payment link", r"the link", r"link to pay", r"pay online", r"bank details",
        r"account number",
    ),
    currency_words=(r"dollars?", r"bucks"),
    pay_verbs=("pay", "paid"),
    pay_pronouns=("you",),
    duration_units=(r"days?", r"weeks?", r"months?"),
    weekdays=(
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "mon", "tues?", "wed", "thu(?:rs?)?", "fri", "sat", "sun",
    ),
    months={
        "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4,
        "apr": 4, "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
        "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11,
        "nov": 11, "december": 12, "dec": 12,
    },
    next_before=("next",),
    next_after=("next",),
    day_prefixes=("(?:(?:on|by|before|until) )?the",),
    ordinal_suffixes=("st", "nd", "rd", "th"),
    end_of_month=(r"(?:by |at |before )?(?:the )?end of (?:the |this )?month",),
    date_rewrites=(
        (("tmrw?", "tmrrw", "2moro(?:w)?", "2morrow", "tomoro(?:w)?"), "tomorrow"),
        # search_dates picks "tomorrow" out of "day after tomorrow"; parse() alone works.
        (("(?:the )?day after tomorrow",), "in 2 days"),
    ),
)
# fmt: on
