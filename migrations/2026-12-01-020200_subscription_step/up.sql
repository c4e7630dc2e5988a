-- The `stripe_subscription` provisioning step (after the Stripe customer). Expand only: one
-- more allowed value.
ALTER TABLE provisioning_steps DROP CONSTRAINT provisioning_steps_step_valid;
ALTER TABLE provisioning_steps ADD CONSTRAINT provisioning_steps_step_valid
    CHECK (step IN ('authentik_group', 'stalwart_domain', 'ocis_space', 'stripe_customer',
                    'stripe_subscription'));
