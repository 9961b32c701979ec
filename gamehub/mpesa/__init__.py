"""M-Pesa: the Daraja client the wallet pays through, and the sandbox that stands in for Daraja."""
