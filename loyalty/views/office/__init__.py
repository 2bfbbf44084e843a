"""Back-office pages of the frequent flyer programme, one module per sub-domain."""
