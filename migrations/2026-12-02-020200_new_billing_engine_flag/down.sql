DELETE FROM feature_flags WHERE key = 'new_billing_engine';
