"""The opsbook.yaml format: models, YAML loading with line numbers, ${{ }} expressions."""
