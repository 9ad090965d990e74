"""modelyard.billing"""
