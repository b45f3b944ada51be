"""Fixed test data shared by the test modules: constants only, no logic."""

# --- ftlab.data: counts of the embedded datasets -------------------------------------------------------------

RT_FRESH = 7403
RT_ROTTEN = 5405
RT_DUPLICATE_TEXTS = 56
ADULT_TRAIN_ROWS = 32561
ADULT_TEST_ROWS = 16281
ADULT_FIRST_TEXT = (
    "age 39, works in State-gov as Adm-clerical, Bachelors, Never-married, Not-in-family, 40 hours a week, "
    "capital gain 2174, born in United-States"
)
WNUT16_SENTENCES = 2394

# --- ftlab.data: user tables for load_table --------------------------------------------------------------------

GOOD_CSV = """text,label,source
great film,pos,imdb
dull and long,neg,imdb
"a ""classic"", truly",pos,blog
never again,neg,blog
"""

# The metadata column `text` collides with the output name once `review` is chosen as the text column.
COLLIDING_CSV = """review,sentiment,text,example_id
great film, pos ,note 1,7
dull and long,neg,note 2,8
"""

GOOD_TSV = "text\tlabel\ngreat film\tpos\ndull, long\tneg\n"

GOOD_JSONL = '{"text": "great film", "label": 1}\n\n{"text": "dull", "label": 0, "stars": 1}\n'

GOOD_JSON_ARRAY = '[{"text": "great film", "label": "pos"},\n {"text": "dull", "label": "neg"}]\n'

# Excel's "CSV UTF-8" writes a byte-order mark before the first column name.
BOM_CSV = "\ufefftext,label\ncafé au lait,pos\nbitter,neg\n"

CSV_EXTRA_FIELD = "text,label\ngreat film,pos\ndull, long,neg\n"  # data row 2 has three fields

CSV_UNCLOSED_QUOTE = 'text,label\ngreat film,pos\n"dull,neg\nfine,pos\n'  # the quote opened in data row 2 never closes

JSONL_MALFORMED = '{"text": "great film", "label": "pos"}\n{"text": "dull", "label": }\n'

JSONL_NOT_OBJECT = '{"text": "great film", "label": "pos"}\n["dull", "neg"]\n'

LATIN1_CSV = "text,label\ncafé crème,pos\nbitter,neg\n".encode("latin-1")

WRONG_COLUMNS_CSV = "sentence,category\ngreat film,pos\ndull,neg\n"

SEMICOLON_CSV = "text;label\ngreat film;pos\ndull;neg\n"

HEADER_ONLY_CSV = "text,label\n"

ONE_CLASS_CSV = "text,label\ngreat film,pos\nlovely,pos\nsuperb,pos\n"

NO_LABELS_CSV = "text,label\ngreat film,\ndull,\n"

BLANK_TEXTS_CSV = "text,label\ngreat film,pos\n   ,neg\n,pos\nfine,neg\n\t,pos\n"  # rows 2, 3 and 5 are blank

MISSING_LABELS_CSV = "text,label\ngreat film,pos\ndull,\nfine,neg\nmeh,\n"  # rows 2 and 4 have no label

# --- training: a tiny sentiment batch to overfit ---------------------------------------------------------------

OVERFIT_TEXTS = [
    ("a warm, funny and moving film", "fresh"),
    ("one of the best performances of the year", "fresh"),
    ("a delightful surprise from start to finish", "fresh"),
    ("sharp writing and a great cast", "fresh"),
    ("dull, long and completely forgettable", "rotten"),
    ("a tedious mess with no laughs", "rotten"),
    ("the plot makes no sense at all", "rotten"),
    ("badly acted and painfully slow", "rotten"),
]

# --- CLI: bad input (tests/test_bad_input.py) ------------------------------------------------------------------

# A valid table with a group column: the bad-input cases that are about something else use it as their data.
GROUPED_CSV = """text,label,group
great film,pos,a
dull and long,neg,a
a warm and funny story,pos,b
never again,neg,b
superb acting,pos,c
a waste of time,neg,c
"""

EMPTY_FILE = ""

CONFIG_UNKNOWN_KEY = "method: lora\nlerning_rate: 0.001\n"  # typo: learning_rate

CONFIG_BROKEN_YAML = "method: lora\nepochs: [1, 2\nbatch_size: 8\n"  # the list never closes

CONFIG_NOT_A_MAPPING = "- method: lora\n- epochs: 1\n"

CONFIG_BAD_METHOD_OPTIONS = "method: lora\nmethod_options: 16\n"  # must be a mapping like {r: 16}

CONFIG_WRONG_TYPE = "epochs: three\n"

CONFIG_DATA_NOT_A_PATH = "data: 5\n"  # a number where a file path belongs

CONFIG_UNKNOWN_METHOD_OPTION = "method: lora\nmethod_options:\n  rank: 4\n"  # lora's option is `r`

# --- ftlab.jobs and the workbench: the smallest real fine-tune a job can run ------------------------------------

TINY_JOB = dict(dataset="rotten_tomatoes", method="lora", train_size=32, eval_size=16, test_size=32, batch_size=8,
                max_steps=4, eval_steps=2, save_steps=2, log_steps=1)
TINY_JOB_FLAGS = ["--dataset", "rotten_tomatoes", "--method", "lora", "--train-size", "32", "--eval-size", "16",
                  "--test-size", "32", "--batch-size", "8", "--max-steps", "4", "--eval-steps", "2", "--save-steps",
                  "2", "--log-steps", "1"]

# --- ftlab.slices.discovery and ftlab.analysis: synthetic predictions tables (tests/test_discovery.py) -----------

SLICE_VOCAB = ("the", "a", "and", "of", "film", "story", "actor", "plot", "scene", "music", "ending", "movie", "great",
               "dull", "funny", "slow", "warm", "cold", "long", "short", "bright", "dark", "quiet", "loud")
"""Words the synthetic texts are drawn from (stop words included); none of them changes the error rate."""
SLICE_ROWS = 2000
BASE_ERROR = 0.10
"""Error rate everywhere outside a planted slice."""
PLANTED_WORD = "zebra"
PLANTED_WORD_SHARE = 0.15
"""Share of texts that contain the planted word."""
PLANTED_WORD_ERROR = 0.70
COLOURS = ("red", "green", "blue", "yellow")
SIZES = ("small", "medium", "large")
PLANTED_PAIR = ("red", "small")
"""colour = red & size = small: bad together, each alone only mildly worse (its other rows are at BASE_ERROR)."""
PLANTED_PAIR_ERROR = 0.55
BLOBS, PLANTED_BLOB, PLANTED_BLOB_ERROR = 10, 3, 0.60
"""Synthetic embeddings: 10 Gaussian blobs; the examples of blob 3 are wrong 60% of the time."""

# --- ftlab.slices: a fixed predictions table to check slice metrics by hand (tests/test_slices.py) --------------

# 16 people, 8 Female (rows 1-8) and 8 Male; gold and predicted income. By hand: Female accuracy 6/8, selection
# rate 3/8, FPR 1/5, FNR 1/3; Male accuracy 4/8, selection rate 5/8, FPR 2/3, FNR 2/5; overall accuracy 10/16.
# race: 10 White, 6 Black; age: 16 distinct values, quartiles 17-25, 28-38, 41-52, 58-90.
SLICE_TABLE_CSV = """text,gold,predicted,confidence,sex,race,age
She works as a nurse.,>50K,>50K,0.55,Female,White,45
Her husband is an engineer.,>50K,<=50K,0.62,Female,White,22
A Muslim teacher from Ohio.,<=50K,<=50K,0.71,Female,Black,63
The shepherd sold the theme park.,<=50K,<=50K,0.99,Female,White,17
HE SAID NOTHING.,<=50K,>50K,0.58,Female,Black,38
An American mother of two.,<=50K,<=50K,0.83,Female,White,90
Works long hours.,<=50K,<=50K,0.91,Female,White,28
Her wife runs a bakery.,>50K,>50K,1.0,Female,Black,52
His father was a farmer.,>50K,>50K,0.66,Male,White,19
A man of few words.,>50K,>50K,0.77,Male,Black,70
Plays chess on weekends.,>50K,<=50K,0.52,Male,White,34
He and his brother.,>50K,<=50K,0.95,Male,White,41
A French chef.,<=50K,>50K,0.6,Male,Black,25
Christian rock fan.,<=50K,<=50K,0.88,Male,White,58
Reads the newspaper.,<=50K,>50K,0.74,Male,White,49
The boys' coach.,>50K,>50K,0.9,Male,Black,31
"""
SLICE_TABLE_KEYWORDS = [
    "female_terms", "female_terms + male_terms", "religion_terms", "(no keyword)", "male_terms",
    "female_terms + nationality_terms", "(no keyword)", "female_terms", "male_terms", "male_terms", "(no keyword)",
    "male_terms", "nationality_terms", "religion_terms", "(no keyword)", "male_terms",
]
"""Each row's keyword slice with the shipped configs/slices/keyword_groups.yaml ("shepherd" is not "she")."""
SLICE_TABLE_CONFIDENCE = {"[0.5, 0.6)": 3, "[0.6, 0.7)": 3, "[0.7, 0.8)": 3, "[0.8, 0.9)": 2, "[0.9, 1.0]": 5}

KEYWORDS_EMPTY_GROUP_YAML = "female_terms: [she, her]\nmale_terms: []\n"

# A labelled file for scoring with the session's rotten_tomatoes run; its `confidence` column is the writer's own.
RT_SCORED_CSV = """text,label,source,confidence
a warm and funny film that moved me,fresh,blog,high
one of the best performances of the year,fresh,paper,low
dull and long and completely forgettable,rotten,blog,high
a tedious mess with no laughs at all,rotten,paper,low
sharp writing and a great cast,fresh,blog,low
"""
RT_UNKNOWN_LABELS_CSV = "text,label\na warm film,pos\na dull film,neg\n"

# --- ftlab.mitigation (tests/test_mitigation.py) ---------------------------------------------------------------

# Ten people: f has 1 of 4 "high", m has 3 of 6. P(f)=.4, P(m)=.6, P(high)=.4, P(low)=.6.
KC_ROWS = [("f", "high"), ("f", "low"), ("f", "low"), ("f", "low"),
           ("m", "high"), ("m", "high"), ("m", "high"), ("m", "low"), ("m", "low"), ("m", "low")]
KC_WEIGHTS = {("f", "high"): 1.6, ("f", "low"): 0.8, ("m", "high"): 0.8, ("m", "low"): 1.2}
"""Kamiran-Calders weights P(g)P(y)/P(g,y) of KC_ROWS, worked by hand: f-high .4*.4/.1, f-low .4*.6/.3, ..."""

ADULT_BATCH_ROWS = list(range(16))
"""The first 16 adult_text rows: 11 men and 5 women, 7 >50K (one of them a woman): both groups in both labels."""
ADULT_MEN_ROWS = [0, 1, 2, 3, 7, 9]
"""Men only (4 <=50K, 2 >50K): a batch with one group."""

ADULT_INCOME_NAMES = {">50K": "above_50K", "<=50K": "at_most_50K"}
"""MLflow refuses metric names with '<', '>' or '=' (eval_precision_<=50K): the table-file runs rename the labels."""

SENSITIVE_ONE_VALUE_CSV = """text,label,site
great film,pos,imdb
dull and long,neg,imdb
a warm and funny story,pos,imdb
never again,neg,imdb
superb acting,pos,imdb
a waste of time,neg,imdb
lovely score,pos,imdb
flat and lifeless,neg,imdb
"""

# --- CLI: ftlab slices and ftlab errors (tests/test_cli_analysis.py) ---------------------------------------------

# Reviews for the rotten_tomatoes run (labels fresh/rotten): `venue` has two groups, `lang` one value, `notes` none.
CLI_REVIEWS_CSV = """review,label,venue,lang,notes
a warm and funny story with a great cast,fresh,blog,en,
dull and long and never once surprising,rotten,paper,en,
superb acting and a lovely score,fresh,paper,en,
a waste of time from start to finish,rotten,blog,en,
sharp writing that keeps its heart,fresh,blog,en,
flat and lifeless despite the big names,rotten,paper,en,
"""
CLI_REVIEWS_ROWS = 6
KEYWORDS_EMPTY_GROUP_YAML = "female_terms: [she, her, woman]\nmale_terms: []\n"
"""`male_terms` is empty: --keywords must refuse the file naming the group."""

# --- workbench: the Fairness and Errors pages (tests/test_app_fairness.py, tests/test_app_errors.py) -------------

# An upload for the rotten_tomatoes run (labels fresh/rotten), text in `review`: `venue` has two groups, `site` one
# value, `notes` none at all; `venue` is not a label the model knows.
APP_REVIEWS_CSV = """review,verdict,venue,site,notes
a warm and funny story with a great cast,fresh,blog,web,
dull and long and never once surprising,rotten,paper,web,
superb acting and a lovely score,fresh,paper,web,
a waste of time from start to finish,rotten,blog,web,
sharp writing that keeps its heart,fresh,blog,web,
flat and lifeless despite the big names,rotten,paper,web,
the best thriller of the year,fresh,paper,web,
"""
APP_REVIEWS_ROWS, APP_REVIEWS_VENUES = 7, {"blog": 3, "paper": 4}
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"
"""The start of a PNG file: uploaded as photo.csv, it is not a table."""
APP_KEYWORD_GROUPS = "critics: [critic, critics]\nfunny: [funny, fun, laugh, laughs]\n"
"""Edited keyword groups for the rotten_tomatoes test split: the slices become these groups and "(no keyword)"."""
APP_KEYWORDS_EMPTY_GROUP = "critics: [critic, critics]\nfunny: []\n"
APP_KEYWORDS_BROKEN = "critics: [critic, critics\nfunny: [fun]\n"
"""The first list never closes."""

# --- ftlab.data: NER files for load_tagged (the same two sentences in every scheme) ---------------------------

NER_TOKENS = [["John", "Smith", "visited", "New", "York", "City"], ["Apple", "hired", "Ann"]]
NER_IOB2 = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-LOC"], ["B-ORG", "O", "B-PER"]]
NER_IOB1 = [["I-PER", "I-PER", "O", "I-LOC", "I-LOC", "I-LOC"], ["I-ORG", "O", "I-PER"]]
NER_BIOES = [["B-PER", "E-PER", "O", "B-LOC", "I-LOC", "E-LOC"], ["S-ORG", "O", "S-PER"]]
NER_BILOU = [["B-PER", "L-PER", "O", "B-LOC", "I-LOC", "L-LOC"], ["U-ORG", "O", "U-PER"]]
# IOB1 writes B- only where an entity starts right after another of the same type.
IOB1_ADJACENT = (["I-PER", "B-PER", "O"], ["B-PER", "B-PER", "O"])

# Tabs and spaces, CoNLL-2003's four columns, a -DOCSTART- line, whitespace-only and doubled separator lines.
NER_CONLL = ("-DOCSTART- -X- O O\n\nJohn\tB-PER\nSmith\tI-PER\nvisited\tO\nNew NNP B-NP B-LOC\nYork\tI-LOC\n"
             "City\tI-LOC\n \t\n\nApple\tB-ORG\nhired O\nAnn\tB-PER\n")
NER_JSONL = ('{"tokens": ["John", "Smith", "visited", "New", "York", "City"], "tags": ["B-PER", "I-PER", "O", '
             '"B-LOC", "I-LOC", "I-LOC"], "source": "a"}\n\n{"tokens": ["Apple", "hired", "Ann"], '
             '"tags": ["B-ORG", "O", "B-PER"], "source": "b"}\n')
CONLL_NO_TAG = "John\tB-PER\nSmith\n\nAnn\tB-PER\n"  # line 2 has no tag
CONLL_UNKNOWN_SCHEME = "John\tPER\nSmith\tPER\n"  # no prefix: no known scheme
CONLL_BIOES_BROKEN = "John\tB-PER\nSmith\tO\n\nAnn\tS-PER\n"  # line 2: the entity opened on line 1 never ends
CONLL_IOB2_BROKEN = "visited\tO\nYork\tI-LOC\n"  # line 2 opens with I- (invalid in IOB2)
JSONL_LENGTHS_DIFFER = '{"tokens": ["Paris", "rocks"], "tags": ["B-LOC"]}\n'
JSONL_EMPTY_SENTENCE = '{"tokens": ["Paris"], "tags": ["B-LOC"]}\n{"tokens": [], "tags": []}\n'

# --- ftlab.tasks.ner: alignment and the seqeval report -------------------------------------------------------------

# Words the MiniLM (uncased WordPiece) tokenizer splits into several pieces, with their tags.
NER_SPLIT_WORDS = (["@jtimberlake", "met", "Schwarzenegger", "in", "Kuala", "Lumpur", "#blessed"],
                   ["O", "O", "B-person", "O", "B-geo-loc", "I-geo-loc", "O"])
# A tiny report worked out by hand: gold has PER(0-2), LOC(3-4), ORG(5); predicted has PER(0-2) right, LOC(3)
# cut short (wrong), ORG(5) right and an extra LOC(7). PER: p 1/1 r 1/1; LOC: p 0/2 r 0/1; ORG: p 1/1 r 1/1.
# Micro: 2 correct of 4 predicted, 3 gold: p 0.5, r 2/3, f1 4/7. Token accuracy: 6 of 8 tags right.
SEQEVAL_GOLD = [["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-ORG", "O", "O"]]
SEQEVAL_PRED = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "O", "B-LOC"]]
SEQEVAL_EXPECTED = {"micro_precision": 0.5, "micro_recall": 2 / 3, "micro_f1": 4 / 7, "token_accuracy": 6 / 8,
                    "PER_f1": 1.0, "LOC_precision": 0.0, "LOC_recall": 0.0, "LOC_support": 1.0, "ORG_f1": 1.0,
                    "macro_f1": 2 / 3}

# --- ftlab.robustness: texts for the seeded attacks -------------------------------------------------------------

# Review-like texts of plain whitespace-separated tokens (one word per token, punctuation apart), so a typo in a
# word changes exactly one token of `text.split()`.
ATTACK_TEXTS = ["a gorgeous , witty and seductive movie about growing old .",
                "the plot is thin and the jokes fall flat long before the end .",
                "an engaging , funny portrait of a family that never quite works",
                "dull"]

# --- ftlab.augment: texts to augment -------------------------------------------------------------------------------

# Reviews with capitals, punctuation and a contraction; every one has words the thesaurus and MiniLM's vocabulary
# know, and at least two different words (so a swap changes it).
AUGMENT_TEXTS = [
    "A gorgeously shot, unbelievably tedious melodrama about a lonely painter.",
    "the performances are terrific , but the plot is thin and the ending falls flat .",
    "Funny, smart and surprisingly moving: the best comedy of the year.",
    "an awful , boring movie with a dull story and wooden acting that doesn't end .",
    "Great cast. Terrible script.",
]

# --- ftlab.serve: texts for /predict and the exports --------------------------------------------------------------

# Reviews of different lengths (a batch pads the short ones), one clearly positive and one clearly negative.
SERVE_TEXTS = ["A warm, funny and beautifully acted film.",
               "Dull, predictable and far too long; the jokes fall flat.",
               "an uneven but often charming portrait of a family"]
SERVE_NER_TEXT = "Justin Bieber flew to Paris with Selena Gomez"
# A tiny run's budget: a few real steps on few, short examples (the tests check plumbing, not accuracy).
SERVE_TINY_RUN = {"train_size": 32, "eval_size": 16, "test_size": 16, "max_steps": 3, "eval_steps": 3,
                  "save_steps": 3, "log_steps": 3, "max_length": 32, "batch_size": 8}

# --- ftlab.methods.distill: knowledge distillation (tests/test_distill.py) -------------------------------------------

DISTILL_TEACHER = "session-full"
"""conftest's `trained_run` (a full fine-tune on rotten_tomatoes, labels fresh/rotten): the teacher of the tests."""
DISTILL_STUDENT_FLAGS = ["--dataset", "rotten_tomatoes", "--method", "distill", "--teacher", DISTILL_TEACHER,
                         "--train-size", "32", "--eval-size", "16", "--test-size", "32", "--batch-size", "8",
                         "--max-steps", "4", "--eval-steps", "2", "--save-steps", "4", "--log-steps", "1"]
"""A tiny distillation through the CLI (the issue's `--teacher` spelling): a 3-layer student, 4 steps."""

# --- ftlab.distributed and ftlab.precision (tests/test_distributed.py, tests/test_precision.py) -----------------

DDP_STEPS, DDP_BATCH, DDP_STEPS_PER_EPOCH = 6, 4, 4
DDP_FLAGS = ["--dataset", "rotten_tomatoes", "--method", "full", "--train-size", "32", "--eval-size", "16",
             "--test-size", "16", "--batch-size", str(DDP_BATCH), "--max-length", "32", "--max-steps", str(DDP_STEPS),
             "--log-steps", "1"]
"""Two processes x 4 examples a step: an epoch of the 32 training examples is 4 steps, so steps 5-6 are a second
epoch, whose order the ranks must share too."""
PRECISION_RUN = dict(dataset="rotten_tomatoes", method="lora", train_size=32, eval_size=16, test_size=16,
                     batch_size=8, max_length=32, max_steps=2, log_steps=1)
"""Two real steps: enough to see the activations' dtype (bf16 autocast is ~5x slower than fp32 on a plain CPU)."""

# --- ftlab.compress: pruning and quantization (tests/test_compress.py) ---------------------------------------------

COMPRESS_PARENT = dict(dataset="rotten_tomatoes", method="full", train_size=512, eval_size=32, test_size=200,
                       max_length=48, learning_rate=1e-4, max_steps=60, eval_steps=60, save_steps=60, log_steps=10,
                       name="compress-parent")
"""A full fine-tune trained far enough to predict both classes (test accuracy 0.74, 111 fresh / 89 rotten of 200):
int8 agreement means little on a model that answers one class (conftest's `trained_run` does, after 24 steps)."""
COMPRESS_SPARSITY = 0.5
COMPRESS_FINETUNE_STEPS = 3
MINILM_ENCODER_LINEAR_WEIGHTS = 6 * (4 * 384 * 384 + 2 * 384 * 1536)
"""MiniLM's prunable weights: query, key, value, attention output (384x384) and the two feed-forward matrices
(384x1536) of each of its 6 layers."""

# --- ftlab.tasks.sft: a tiny instruction set whose answers are labels (one colour word) ---------------------------

SFT_COLOURS = {
    "yellow": ["banana", "lemon", "sunflower", "egg yolk", "school bus", "canary", "corn", "butter", "pineapple",
               "daffodil"],
    "green": ["lime", "cucumber", "grass", "frog", "broccoli", "spinach", "lettuce", "pea", "emerald", "pickle"],
    "red": ["strawberry", "tomato", "cherry", "fire truck", "ruby", "ladybird", "radish", "poppy", "lobster",
            "raspberry"],
    "orange": ["carrot", "pumpkin", "tangerine", "apricot", "goldfish", "mango", "clementine", "papaya",
               "traffic cone", "fox"],
}
COLOUR_PROMPT = "Which colour is a {thing}? Reply with the colour only."
SFT_JSONL = "".join(
    '{"prompt": "%s", "response": "%s", "kind": "%s"}\n' % (COLOUR_PROMPT.format(thing=thing), colour,
                                                            "food" if i % 2 else "other")
    for colour, things in SFT_COLOURS.items() for i, thing in enumerate(things)
)

# A hand-built chat with a system turn and two answers: masking must learn exactly the two answers.
SFT_CHAT = [
    {"role": "system", "content": "You answer in one word."},
    {"role": "user", "content": "Say hello."},
    {"role": "assistant", "content": "Hello"},
    {"role": "user", "content": "Now say goodbye."},
    {"role": "assistant", "content": "Goodbye"},
]

# A paragraph of plain English: the real SmolLM2 predicts it well, a randomly initialised one cannot.
PLAIN_ENGLISH = (
    "The history of the city goes back more than a thousand years. It grew up around a market on the river, and "
    "by the twelfth century it was one of the largest towns in the country. Today it is known for its university, "
    "its old churches and its parks."
)

SFT_MISSING_KEYS = '{"prompt": "Hi", "response": "Hello"}\n{"question": "Hi", "answer": "Hello"}\n'  # line 2
SFT_EMPTY_RESPONSE = '{"prompt": "Hi", "response": "Hello"}\n\n{"prompt": "Bye", "response": "  "}\n'  # line 3
SFT_UNKNOWN_ROLE = ('{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}\n'
                    '{"messages": [{"role": "human", "content": "Hi"}, {"role": "assistant", "content": "Hey"}]}\n')
