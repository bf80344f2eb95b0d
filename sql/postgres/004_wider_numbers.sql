-- Wider money and percentage columns, so no value the service can reach overflows a column.
-- Spend is not bounded by the API (every event adds to it): numeric(38, 6) holds any sum ClickHouse can
-- produce of Decimal(38, 12) costs (below 10^26), still rounded to micro-dollars as before. Amounts take the
-- same type (the API allows up to 10^12, one digit more than numeric(18, 6) held). A percentage used is spend over
-- amount and has no upper bound at all (10^30 % for the largest spend over a one-cent budget, more for budgets
-- created before amounts had a floor): it is an unconstrained numeric, which the code rounds to 4 decimals.
-- Widening a numeric keeps every stored value; no CHECK constraint depends on the precision.
ALTER TABLE finops_budgets
    ALTER COLUMN amount TYPE numeric(38, 6),
    ALTER COLUMN spent TYPE numeric(38, 6),
    ALTER COLUMN forecasted_spend TYPE numeric(38, 6);

ALTER TABLE finops_budget_events
    ALTER COLUMN spent TYPE numeric(38, 6),
    ALTER COLUMN amount TYPE numeric(38, 6),
    ALTER COLUMN percent_used TYPE numeric;

ALTER TABLE finops_budget_spend_history
    ALTER COLUMN spent TYPE numeric(38, 6),
    ALTER COLUMN amount TYPE numeric(38, 6),
    ALTER COLUMN percent_used TYPE numeric;
