namespace Tessera.Demo;

/// <summary>Chooses the session store from <c>Tessera:Store</c>.</summary>
internal static class DemoStores
{
    public static void Use(TesseraBuilder tessera, DemoSettings settings)
    {
        switch (settings.Store)
        {
            case "sqlite":
                var connectionString = settings.SqliteConnectionString;
                if (connectionString is null)
                {
                    DevelopmentSigningKey.CreateDirectory(settings.DataDirectory);
                    connectionString = $"Data Source={settings.SqliteDatabasePath}";
                }
                tessera.UseSqliteStore(connectionString);
                break;
            case "memory":
                tessera.UseMemoryStore();
                break;
            default:
                throw new DemoConfigurationException(
                    $"Tessera:Store={settings.Store} is not available yet in this demo; use sqlite (the default) or memory.");
        }
    }
}
