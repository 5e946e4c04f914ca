"""Special tokens. They are module constants so every component agrees on them."""

UNK = "xxunk"  # a token the vocabulary does not know
PAD = "xxpad"  # padding in a batch
BOS = "xxbos"  # beginning of a text
EOS = "xxeos"  # end of a text
FLD = "xxfld"  # separates fields of a multi-field record
REP = "xxrep"  # "xxrep 4 !" is "!!!!": a run of one non-word character
WREP = "xxwrep"  # "xxwrep 3 very" is "very very very"
UP = "xxup"  # the next token was ALL CAPS
MAJ = "xxmaj"  # the next token was Capitalized
ESC = "xxesc"  # the next token is literal text that happens to spell a special token

SPECIAL_TOKENS: tuple[str, ...] = (UNK, PAD, BOS, EOS, FLD, REP, WREP, UP, MAJ, ESC)

# The order in which a trained SentencePiece model reserves its first ids.
SUBWORD_RESERVED: tuple[str, ...] = (UNK, BOS, EOS, PAD)
