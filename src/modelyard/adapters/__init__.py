"""modelyard.adapters"""
