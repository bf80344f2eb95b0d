-- Version 1 of the rate card: list prices in USD, effective from 2024-01-01, checked in November 2026.
-- AI prices are per 1M tokens (standard tier, no batch discount). Sources:
--   OpenAI API pricing page; Anthropic pricing page (cached input = prompt-cache read);
--   Amazon Bedrock on-demand pricing, us-east-1 (Llama); Google Gemini API pricing (<= 200k-token prompts).
-- Compute: AWS Fargate Linux/x86, us-east-1 (per vCPU-second and per GB-second of memory).
-- Storage: Amazon S3 Standard, us-east-1 ($0.023 per GB-month / 730 hours).
-- Egress: AWS data transfer out to the internet, first 10 TB tier, by region.
-- Exports: no public list price exists; $0.001 per export and $0.09 per GB delivered are the platform's
--   own defaults. Set them to your real cost with a new rate card version.
-- The '*' entry of an AI meter is the documented FALLBACK for models not on the card (Claude Sonnet tier,
-- deliberately not cheap, so unknown models are never under-counted); events priced by it are flagged.
INSERT INTO rate_card (version, effective_from, meter, price_key, unit_price, pricing_unit, source, published_at)
SELECT 1, toDate('2024-01-01'), meter, price_key, toDecimal128(price, 12), unit, source, toDateTime64('2024-01-01 00:00:00', 6, 'UTC')
FROM values('meter String, price_key String, price String, unit String, source String',
    -- OpenAI
    ('input_tokens', 'gpt-4o', '2.50', '1M tokens', 'OpenAI API pricing'),
    ('cached_input_tokens', 'gpt-4o', '1.25', '1M tokens', 'OpenAI API pricing'),
    ('output_tokens', 'gpt-4o', '10.00', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'gpt-4o-mini', '0.15', '1M tokens', 'OpenAI API pricing'),
    ('cached_input_tokens', 'gpt-4o-mini', '0.075', '1M tokens', 'OpenAI API pricing'),
    ('output_tokens', 'gpt-4o-mini', '0.60', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'gpt-4.1', '2.00', '1M tokens', 'OpenAI API pricing'),
    ('cached_input_tokens', 'gpt-4.1', '0.50', '1M tokens', 'OpenAI API pricing'),
    ('output_tokens', 'gpt-4.1', '8.00', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'gpt-4.1-mini', '0.40', '1M tokens', 'OpenAI API pricing'),
    ('cached_input_tokens', 'gpt-4.1-mini', '0.10', '1M tokens', 'OpenAI API pricing'),
    ('output_tokens', 'gpt-4.1-mini', '1.60', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'gpt-5', '1.25', '1M tokens', 'OpenAI API pricing'),
    ('cached_input_tokens', 'gpt-5', '0.125', '1M tokens', 'OpenAI API pricing'),
    ('output_tokens', 'gpt-5', '10.00', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'gpt-5-mini', '0.25', '1M tokens', 'OpenAI API pricing'),
    ('cached_input_tokens', 'gpt-5-mini', '0.025', '1M tokens', 'OpenAI API pricing'),
    ('output_tokens', 'gpt-5-mini', '2.00', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'o3', '2.00', '1M tokens', 'OpenAI API pricing'),
    ('cached_input_tokens', 'o3', '0.50', '1M tokens', 'OpenAI API pricing'),
    ('output_tokens', 'o3', '8.00', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'o4-mini', '1.10', '1M tokens', 'OpenAI API pricing'),
    ('cached_input_tokens', 'o4-mini', '0.275', '1M tokens', 'OpenAI API pricing'),
    ('output_tokens', 'o4-mini', '4.40', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'text-embedding-3-small', '0.02', '1M tokens', 'OpenAI API pricing'),
    ('input_tokens', 'text-embedding-3-large', '0.13', '1M tokens', 'OpenAI API pricing'),
    -- Anthropic
    ('input_tokens', 'claude-opus-4-5', '5.00', '1M tokens', 'Anthropic pricing'),
    ('cached_input_tokens', 'claude-opus-4-5', '0.50', '1M tokens', 'Anthropic pricing'),
    ('output_tokens', 'claude-opus-4-5', '25.00', '1M tokens', 'Anthropic pricing'),
    ('input_tokens', 'claude-opus-4-1', '15.00', '1M tokens', 'Anthropic pricing'),
    ('cached_input_tokens', 'claude-opus-4-1', '1.50', '1M tokens', 'Anthropic pricing'),
    ('output_tokens', 'claude-opus-4-1', '75.00', '1M tokens', 'Anthropic pricing'),
    ('input_tokens', 'claude-sonnet-4-5', '3.00', '1M tokens', 'Anthropic pricing'),
    ('cached_input_tokens', 'claude-sonnet-4-5', '0.30', '1M tokens', 'Anthropic pricing'),
    ('output_tokens', 'claude-sonnet-4-5', '15.00', '1M tokens', 'Anthropic pricing'),
    ('input_tokens', 'claude-sonnet-4', '3.00', '1M tokens', 'Anthropic pricing'),
    ('cached_input_tokens', 'claude-sonnet-4', '0.30', '1M tokens', 'Anthropic pricing'),
    ('output_tokens', 'claude-sonnet-4', '15.00', '1M tokens', 'Anthropic pricing'),
    ('input_tokens', 'claude-haiku-4-5', '1.00', '1M tokens', 'Anthropic pricing'),
    ('cached_input_tokens', 'claude-haiku-4-5', '0.10', '1M tokens', 'Anthropic pricing'),
    ('output_tokens', 'claude-haiku-4-5', '5.00', '1M tokens', 'Anthropic pricing'),
    ('input_tokens', 'claude-3-5-haiku', '0.80', '1M tokens', 'Anthropic pricing'),
    ('cached_input_tokens', 'claude-3-5-haiku', '0.08', '1M tokens', 'Anthropic pricing'),
    ('output_tokens', 'claude-3-5-haiku', '4.00', '1M tokens', 'Anthropic pricing'),
    -- Meta Llama on Amazon Bedrock (no prompt caching: cached input priced as input)
    ('input_tokens', 'llama-4-maverick-17b', '0.24', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('cached_input_tokens', 'llama-4-maverick-17b', '0.24', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('output_tokens', 'llama-4-maverick-17b', '0.97', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('input_tokens', 'llama-4-scout-17b', '0.17', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('cached_input_tokens', 'llama-4-scout-17b', '0.17', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('output_tokens', 'llama-4-scout-17b', '0.66', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('input_tokens', 'llama-3.3-70b', '0.72', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('cached_input_tokens', 'llama-3.3-70b', '0.72', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('output_tokens', 'llama-3.3-70b', '0.72', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('input_tokens', 'llama-3.1-8b', '0.22', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('cached_input_tokens', 'llama-3.1-8b', '0.22', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    ('output_tokens', 'llama-3.1-8b', '0.22', '1M tokens', 'Amazon Bedrock pricing, us-east-1'),
    -- Google
    ('input_tokens', 'gemini-2.5-pro', '1.25', '1M tokens', 'Google Gemini API pricing'),
    ('cached_input_tokens', 'gemini-2.5-pro', '0.31', '1M tokens', 'Google Gemini API pricing'),
    ('output_tokens', 'gemini-2.5-pro', '10.00', '1M tokens', 'Google Gemini API pricing'),
    ('input_tokens', 'gemini-2.5-flash', '0.30', '1M tokens', 'Google Gemini API pricing'),
    ('cached_input_tokens', 'gemini-2.5-flash', '0.075', '1M tokens', 'Google Gemini API pricing'),
    ('output_tokens', 'gemini-2.5-flash', '2.50', '1M tokens', 'Google Gemini API pricing'),
    -- Fallback for AI models not on the card (flagged when used)
    ('input_tokens', '*', '3.00', '1M tokens', 'fallback: Claude Sonnet tier'),
    ('cached_input_tokens', '*', '0.30', '1M tokens', 'fallback: Claude Sonnet tier'),
    ('output_tokens', '*', '15.00', '1M tokens', 'fallback: Claude Sonnet tier'),
    -- Compute, storage
    ('vcpu_seconds', '*', '0.000011244444', 'vCPU-second', 'AWS Fargate Linux/x86 us-east-1 ($0.04048 per vCPU-hour)'),
    ('memory_gb_seconds', '*', '0.000001234722', 'GB-second', 'AWS Fargate Linux/x86 us-east-1 ($0.004445 per GB-hour)'),
    ('gb_hours', '*', '0.000031506849', 'GB-hour', 'Amazon S3 Standard us-east-1 ($0.023 per GB-month)'),
    -- Exports (platform defaults, see above)
    ('exports', '*', '0.001', 'export', 'platform default (no public price)'),
    ('export_gb', '*', '0.09', 'GB', 'platform default (no public price)'),
    -- Egress to the internet by region
    ('egress_gb', '*', '0.09', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'us-east-1', '0.09', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'us-east-2', '0.09', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'us-west-2', '0.09', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'eu-west-1', '0.09', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'eu-central-1', '0.09', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'ap-southeast-1', '0.12', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'ap-northeast-1', '0.114', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'ap-south-1', '0.1093', 'GB', 'AWS data transfer out, first 10 TB'),
    ('egress_gb', 'sa-east-1', '0.15', 'GB', 'AWS data transfer out, first 10 TB')
);
