"""modelyard.kinds"""
