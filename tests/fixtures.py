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

TINY_JOB = dict(dataset="rotten_tomatoes", method="lora", train_size=32, eval_size=16, batch_size=8, max_steps=4,
                eval_steps=2, save_steps=2, log_steps=1)
TINY_JOB_FLAGS = ["--dataset", "rotten_tomatoes", "--method", "lora", "--train-size", "32", "--eval-size", "16",
                  "--batch-size", "8", "--max-steps", "4", "--eval-steps", "2", "--save-steps", "2", "--log-steps", "1"]
