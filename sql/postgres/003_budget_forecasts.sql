-- The daily check's forecast of each budget's period: expected end-of-period spend, the probability of
-- exceeding the amount and the expected breach date. Status shows them; NULL until the first forecast.
ALTER TABLE finops_budgets ADD COLUMN IF NOT EXISTS forecasted_spend numeric(18, 6);
ALTER TABLE finops_budgets ADD COLUMN IF NOT EXISTS forecast_exceed_probability numeric(5, 4);
ALTER TABLE finops_budgets ADD COLUMN IF NOT EXISTS forecast_breach_date date;
ALTER TABLE finops_budgets ADD COLUMN IF NOT EXISTS forecast_as_of timestamptz;
