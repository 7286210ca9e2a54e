app-name = qgov Quality District
