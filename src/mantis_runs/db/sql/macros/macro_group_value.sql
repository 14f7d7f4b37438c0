-- mantis_group_value(name, model, plan_signature, profile_id, tenant_id): the value of the run
-- attribute called `name` (log.schema.ATTRIBUTES, the ones `--group-by` takes), or NULL when
-- `name` is NULL (no grouping). `name` is a bound value, never SQL text.
CREATE OR REPLACE TEMP MACRO mantis_group_value(name, model, plan_signature, profile_id,
                                                tenant_id) AS
    CASE name
        WHEN 'model' THEN model
        WHEN 'plan_signature' THEN plan_signature
        WHEN 'profile_id' THEN profile_id
        WHEN 'tenant_id' THEN tenant_id
    END;
