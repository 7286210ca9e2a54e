app-name = qgov 质量强区
