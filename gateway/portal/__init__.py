"""Portal sessions and links: a Stripe Customer Portal URL for a customer and a preset."""
