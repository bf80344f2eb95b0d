-- Budgets keep their currency: any ISO 4217 code (three capital letters) instead of USD alone; their spend is read
-- converted into it (README, "Currencies"). The categories now include OTHER, where imported cloud costs that are
-- not AI, compute, storage or networking land (README, "Importing FOCUS cost data").
ALTER TABLE finops_budgets DROP CONSTRAINT IF EXISTS finops_budgets_currency_check;
ALTER TABLE finops_budgets ADD CONSTRAINT finops_budgets_currency_check CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE finops_budgets DROP CONSTRAINT IF EXISTS finops_budgets_categories_check;
ALTER TABLE finops_budgets ADD CONSTRAINT finops_budgets_categories_check
    CHECK (categories <@ ARRAY['AI', 'COMPUTE', 'STORAGE', 'EXPORT', 'EGRESS', 'OTHER']);
