-- Warehouse schema. Idempotent: every statement is CREATE ... IF NOT EXISTS.
-- Money columns are BIGINT minor units of the row's currency (recon/money.py); never DOUBLE.

CREATE TABLE IF NOT EXISTS files (
    sha256          VARCHAR PRIMARY KEY,
    source          VARCHAR NOT NULL,
    name            VARCHAR NOT NULL,
    remote_path     VARCHAR,
    size            BIGINT NOT NULL,
    fetched_at      TIMESTAMPTZ NOT NULL,
    business_date   DATE NOT NULL,
    format          VARCHAR,
    parse_status    VARCHAR NOT NULL,   -- loading (parts being written) | loaded | rejected
    line_count      BIGINT,
    control_total   VARCHAR,            -- ok | n/a | the failed check
    error           VARCHAR
);

-- The two bulk tables carry no PRIMARY KEY: DuckDB re-serialises a table's ART index at every
-- checkpoint, which made a 10M-line load quadratic (and the index lives in memory). Their keys
-- are unique by construction: a line_id is the file's sha256 and the line number, and a file's
-- lines are written once (files.parse_status, cleared before a reload); a ledger version is
-- (entry_id, the load's recorded_at) with entry_id unique within an export (validation).
-- Identifier columns (unique or nearly: line ids, entry ids, references) are stored with zstd: as
-- small as DuckDB's default dictionary/FSST analysis and read as fast, at half its insert cost;
-- so is the counterparty (a payer's name or id: thousands of distinct values a day, too many for
-- the dictionary to pay); low-cardinality text keeps the default.
CREATE TABLE IF NOT EXISTS statement_lines (
    line_id            VARCHAR NOT NULL USING COMPRESSION zstd,
    source             VARCHAR NOT NULL,
    file_sha256        VARCHAR NOT NULL,
    file_line          BIGINT NOT NULL,
    business_date      DATE NOT NULL,
    booked_at          TIMESTAMPTZ,
    value_date         DATE,
    txn_type           VARCHAR NOT NULL,
    amount_minor       BIGINT NOT NULL,
    currency           VARCHAR NOT NULL,
    fee_minor          BIGINT,
    net_minor          BIGINT,
    fee_exact          VARCHAR,  -- the fee's exact text when finer than the minor unit (fee_minor NULL)
    orig_amount_minor  BIGINT,
    orig_currency      VARCHAR,
    fx_rate            VARCHAR,
    psp_reference      VARCHAR USING COMPRESSION zstd,
    merchant_reference VARCHAR USING COMPRESSION zstd,
    original_reference VARCHAR,
    payout_id          VARCHAR,
    end_to_end_id      VARCHAR,
    bank_reference     VARCHAR,
    payment_method     VARCHAR,
    counterparty       VARCHAR USING COMPRESSION zstd,
    description        VARCHAR,
    status             VARCHAR,
    merchant_id        VARCHAR,  -- '' when the line has none; NULL: loaded before these columns
    sub_merchant_id    VARCHAR,  -- (the SQL then reads raw)
    card_type          VARCHAR,
    raw                VARCHAR USING COMPRESSION zstd, -- the line's fields as JSON: only for formats whose
                                                      -- lines are not one physical line (recon/lineage.py)
                                                      -- and lines loaded before byte_offset existed
    ref_key            VARCHAR USING COMPRESSION zstd, -- norm_ref(coalesce(merchant_reference, psp_reference)),
                                                      -- written at load (NULL: loaded before it existed)
    byte_offset        BIGINT,   -- the line's place in its archived file (the audit copy): offset and
    byte_length        INTEGER   -- length in bytes, line end excluded (NULL: raw holds the line)
);

-- Append-only and bitemporal: a correction is a new row with a later recorded_at.
CREATE TABLE IF NOT EXISTS ledger_entries (
    entry_id           VARCHAR NOT NULL USING COMPRESSION zstd,
    recorded_at        TIMESTAMPTZ NOT NULL,
    file_sha256        VARCHAR NOT NULL,
    file_line          BIGINT NOT NULL,
    source             VARCHAR NOT NULL,
    business_date      DATE NOT NULL,
    booked_at          TIMESTAMPTZ,
    txn_type           VARCHAR NOT NULL,
    amount_minor       BIGINT NOT NULL,
    currency           VARCHAR NOT NULL,
    merchant_reference VARCHAR USING COMPRESSION zstd,
    psp_reference      VARCHAR USING COMPRESSION zstd,
    original_reference VARCHAR,
    counterparty       VARCHAR USING COMPRESSION zstd,
    description        VARCHAR,
    receiver           VARCHAR,  -- allocations (分账): the receiver's account ([ledger.columns] receiver)
    ref_key            VARCHAR USING COMPRESSION zstd, -- norm_ref(merchant_reference), written at load
    status             VARCHAR,  -- the export's status as sent (a mapped status column), else NULL
    hold               VARCHAR   -- why the entry is kept out of matching ([ledger]); NULL: matched
);

-- One row per rate and amount band (recon/ratecard.py); replaced as a whole at every run start.
CREATE TABLE IF NOT EXISTS rate_cards (
    source             VARCHAR NOT NULL,
    method             VARCHAR NOT NULL,            -- payment method or '*'
    card_type          VARCHAR NOT NULL DEFAULT '*', -- card type or '*'
    card_field         VARCHAR,                     -- raw statement field holding the card type
    card_canonical     BOOLEAN DEFAULT false,       -- card_field is the format's: read card_type
    band_from_minor    BIGINT NOT NULL DEFAULT 0,   -- |amount| >= band_from_minor
    band_to_minor      BIGINT,                      -- |amount| <  band_to_minor (NULL: no bound)
    position           INTEGER NOT NULL DEFAULT 0,  -- order in the file (last tie-breaker)
    rate               DECIMAL(12, 6) NOT NULL,  -- a fraction: 0.006000 for 0.60 %
    fixed_minor        BIGINT NOT NULL,
    minimum_minor      BIGINT NOT NULL,
    maximum_minor      BIGINT,
    valid_from         DATE NOT NULL,
    valid_to           DATE,
    refund_returns_fee BOOLEAN NOT NULL
);

CREATE TABLE IF NOT EXISTS runs (
    run_id            VARCHAR PRIMARY KEY,
    business_date     DATE NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    finished_at       TIMESTAMPTZ,
    status            VARCHAR NOT NULL,     -- running | reconciled | breaks | failed
    code_version      VARCHAR NOT NULL,
    config_sha256     VARCHAR NOT NULL,
    ledger_watermark  TIMESTAMPTZ,
    input_files       VARCHAR,              -- JSON list of {source, name, sha256}
    outputs           VARCHAR,              -- JSON {name: {path, sha256}}
    timings           VARCHAR               -- JSON {stage: seconds}
);

-- One row per link; kind ledger_statement links a ledger entry to a statement line,
-- kind payout_bank links a PSP payout (by payout id) to a bank statement line.
CREATE TABLE IF NOT EXISTS matches (
    run_id            VARCHAR NOT NULL,
    kind              VARCHAR NOT NULL,
    rule              VARCHAR NOT NULL,
    ledger_entry_id   VARCHAR USING COMPRESSION zstd,
    line_id           VARCHAR USING COMPRESSION zstd,
    payout_id         VARCHAR,
    difference_minor  BIGINT NOT NULL,
    evidence          VARCHAR
);

-- The fee report of a run: actual fees against the contracted ones (rate card as of that run)
-- per source, day, currency, method and type, over the priced PSP lines the run read; written by
-- the fee check, which prices every line once.
CREATE TABLE IF NOT EXISTS fee_report (
    run_id             VARCHAR NOT NULL,
    source             VARCHAR NOT NULL,
    business_date      DATE NOT NULL,
    currency           VARCHAR NOT NULL,
    payment_method     VARCHAR NOT NULL,
    txn_type           VARCHAR NOT NULL,
    count              BIGINT NOT NULL,
    gross_minor        BIGINT NOT NULL,
    actual_fee_minor   BIGINT NOT NULL,
    expected_fee_minor BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS breaks (
    run_id                 VARCHAR NOT NULL,
    break_id               VARCHAR NOT NULL,
    business_date          DATE NOT NULL,
    category               VARCHAR NOT NULL,
    source                 VARCHAR NOT NULL,
    currency               VARCHAR,
    reference              VARCHAR,
    psp_reference          VARCHAR,
    ledger_entry_id        VARCHAR,
    line_id                VARCHAR,
    ledger_amount_minor    BIGINT,
    statement_amount_minor BIGINT,
    difference_minor       BIGINT NOT NULL,
    booked_at              TIMESTAMPTZ,
    rule                   VARCHAR NOT NULL,
    detail                 VARCHAR,
    status                 VARCHAR NOT NULL DEFAULT 'open',  -- open | auto_cleared
    first_seen             DATE,         -- the business date the break was first raised
    cleared_on             DATE,         -- auto_cleared: the business date its counterpart arrived
    PRIMARY KEY (run_id, break_id)
);

-- What a run left open: the items (ledger entries, statement lines, payouts) the next business
-- day's run carries forward and tries again.
CREATE TABLE IF NOT EXISTS open_items (
    run_id   VARCHAR NOT NULL,
    kind     VARCHAR NOT NULL,   -- ledger | line | payout | ledger_payout | payout_unbooked
    item_id  VARCHAR NOT NULL,   -- entry_id | line_id | source|payout_id (ledger_payout: entry_id)
    state    VARCHAR             -- NULL (unmatched) | ambiguous | candidate
);

-- Refunds, chargebacks and reversals linked to the payment they reverse.
CREATE TABLE IF NOT EXISTS reversal_links (
    run_id            VARCHAR NOT NULL,
    line_id           VARCHAR NOT NULL,
    original_line_id  VARCHAR NOT NULL,
    txn_type          VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS quarantine (
    run_id       VARCHAR,
    file_sha256  VARCHAR NOT NULL,
    file_name    VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    file_line    BIGINT,
    field        VARCHAR,
    value        VARCHAR,
    reason       VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS annotations (
    break_id     VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,
    reason       VARCHAR,
    comment      VARCHAR,
    who          VARCHAR NOT NULL,
    annotated_at TIMESTAMPTZ NOT NULL,
    workbook_sha VARCHAR
);

-- The key of the Breaks rows' check values (recon/reports/rowcheck.py): one row, made on first use.
CREATE TABLE IF NOT EXISTS workbook_keys (
    secret     VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- One row per PSP payout per run: the three legs of the clearing check.
CREATE TABLE IF NOT EXISTS payouts (
    run_id            VARCHAR NOT NULL,
    source            VARCHAR NOT NULL,
    payout_id         VARCHAR NOT NULL,
    currency          VARCHAR,
    items             BIGINT NOT NULL,
    settled_minor     BIGINT NOT NULL,
    declared_minor    BIGINT,
    bank_credit_minor BIGINT,
    bank_line_id      VARCHAR,             -- the first of the bank lines that carry it
    status            VARCHAR NOT NULL,    -- matched | payout_mismatch | unsettled | in_transit
    first_seen        DATE,
    bank_lines        BIGINT
);

-- Columns added after the first release: existing warehouse files gain them in place.
ALTER TABLE runs ADD COLUMN IF NOT EXISTS carried_from VARCHAR;            -- whose open items it carried
ALTER TABLE runs ADD COLUMN IF NOT EXISTS annotation_watermark TIMESTAMPTZ;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS rerun_of VARCHAR;                -- set on a reproduction
ALTER TABLE breaks ADD COLUMN IF NOT EXISTS first_seen DATE;
ALTER TABLE breaks ADD COLUMN IF NOT EXISTS cleared_on DATE;
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS original_reference VARCHAR;
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS merchant_id VARCHAR;
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS sub_merchant_id VARCHAR;
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS card_type VARCHAR;
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS fee_exact VARCHAR;
-- The normalised reference the duplicate checks and the reversal links compare, computed once at
-- load, not normalised again over the week's rows at every run. NULL in rows loaded
-- before the column existed; the SQL normalises those itself (the macro stored_ref in recon/warehouse.py).
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS ref_key VARCHAR;
ALTER TABLE ledger_entries ADD COLUMN IF NOT EXISTS ref_key VARCHAR;
-- A line's span in its archived file (recon/lineage.py) instead of a raw copy; NULL in rows loaded
-- before these columns existed, which keep their raw.
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS byte_offset BIGINT;
ALTER TABLE statement_lines ADD COLUMN IF NOT EXISTS byte_length INTEGER;
ALTER TABLE ledger_entries ADD COLUMN IF NOT EXISTS status VARCHAR;
ALTER TABLE ledger_entries ADD COLUMN IF NOT EXISTS hold VARCHAR;
ALTER TABLE ledger_entries ADD COLUMN IF NOT EXISTS receiver VARCHAR;
ALTER TABLE rate_cards ADD COLUMN IF NOT EXISTS card_canonical BOOLEAN DEFAULT false;
ALTER TABLE payouts ADD COLUMN IF NOT EXISTS first_seen DATE;
ALTER TABLE payouts ADD COLUMN IF NOT EXISTS bank_lines BIGINT;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS sources VARCHAR;                 -- JSON list of source names
ALTER TABLE runs ADD COLUMN IF NOT EXISTS language VARCHAR;                -- workbook labels
ALTER TABLE runs ADD COLUMN IF NOT EXISTS matched_lines BIGINT;           -- its day's lines it matched
                                                                          -- (report_counts), at its finish
ALTER TABLE files ADD COLUMN IF NOT EXISTS superseded_by VARCHAR;          -- a corrected delivery's sha256
ALTER TABLE annotations ADD COLUMN IF NOT EXISTS version INTEGER;            -- 1, 2, ... per break_id
ALTER TABLE annotations ADD COLUMN IF NOT EXISTS owner VARCHAR;
ALTER TABLE annotations ADD COLUMN IF NOT EXISTS due_date DATE;
ALTER TABLE files ADD COLUMN IF NOT EXISTS loaded_by VARCHAR;              -- a ledger load: who
ALTER TABLE files ADD COLUMN IF NOT EXISTS load_reason VARCHAR;            -- and why (a correction)
