"""modelyard.catalog"""
