using System.Net;
using System.Text.RegularExpressions;
using Npgsql;
using StackExchange.Redis;

namespace Tessera.Demo;

/// <summary>Chooses the session store from <c>Tessera:Store</c>.</summary>
internal static partial class DemoStores
{
    public const string PostgresExample = "Host=localhost;Username=app;Password=...;Database=app";

    public const string RedisExample = "localhost:6379,password=...";

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
            case "postgres":
                UsePostgres(tessera, settings);
                break;
            case "redis":
                UseRedis(tessera, settings);
                break;
            case "cookie":
                // Sessions live in the browser, in encrypted chunk cookies: nothing to run, and nothing on the server that
                // could list a user's sessions, so those routes say so instead of failing.
                tessera.UseCookieStore();
                tessera.Services.AddTransient<IStartupFilter, NoSessionListFilter>();
                break;
            default:
                throw new DemoConfigurationException(
                    $"Tessera:Store={settings.Store} is not available in this demo; use sqlite (the default), memory, postgres, redis or cookie.");
        }
        if (settings.NearCache)
        {
            if (settings.Store is not ("postgres" or "redis"))
            {
                throw new DemoConfigurationException(
                    $"Tessera:NearCache:Enabled=true needs a shared store (postgres or redis); the {settings.Store} store already lives in this process or on its disk.");
            }
            tessera.UseNearCache(options =>
            {
                if (settings.NearCacheMaxStaleness is { } staleness)
                {
                    options.MaxStaleness = staleness;
                }
            });
        }
    }

    /// <summary>
    /// With a store that cannot list a subject's sessions (the cookie store), answers "your devices" (<c>/sessions</c>
    /// and the account page's sign-out forms) with 501 and a problem body, before anything else runs.
    /// </summary>
    private sealed class NoSessionListFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            var store = app.ApplicationServices.GetRequiredService<ISessionStore>();
            app.Use((context, nextMiddleware) =>
            {
                var path = context.Request.Path;
                // Case-insensitive, as routing matches.
                var listing = path.StartsWithSegments("/sessions")
                    || (HttpMethods.IsPost(context.Request.Method) && path.StartsWithSegments("/account/sessions"));
                return listing && store is not ISubjectSessionIndex
                    ? Results.Problem(
                        statusCode: StatusCodes.Status501NotImplemented,
                        title: "This store keeps sessions in the browser's cookies: the server has no list of a user's sessions to show or sign out.").ExecuteAsync(context)
                    : nextMiddleware(context);
            });
            next(app);
        };
    }

    /// <summary>Host, port and database of a PostgreSQL connection string, for log lines: never the password.</summary>
    public static string DescribePostgres(string? connectionString)
    {
        if (connectionString is null)
        {
            return "PostgreSQL (no ConnectionStrings:Postgres)";
        }
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            return $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            return "PostgreSQL (ConnectionStrings:Postgres)";
        }
    }

    private static void UsePostgres(TesseraBuilder tessera, DemoSettings settings)
    {
        var connectionString = settings.PostgresConnectionString ?? throw new DemoConfigurationException(
            "Tessera:Store=postgres needs ConnectionStrings:Postgres, an Npgsql connection string such as "
            + $"\"{PostgresExample}\" (set ConnectionStrings__Postgres=... or pass --ConnectionStrings:Postgres=...).");
        try
        {
            // The demo creates (or upgrades) its tables when it starts, under an advisory lock, so several instances
            // starting at once against one database are fine. A production app may prefer its own migration tool.
            tessera.UsePostgreSqlStore(connectionString, options => options.ApplyMigrationsAtStartup = true);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException)
        {
            // The parser's message names a keyword, never a value, so no password ends up on the console.
            throw new DemoConfigurationException(
                $"ConnectionStrings:Postgres is not a valid Npgsql connection string ({e.Message.Split(" (Parameter", 2)[0]}); expected something like \"{PostgresExample}\".", e);
        }
    }

    /// <summary>
    /// The endpoints of a StackExchange.Redis configuration string, with TLS and a Sentinel service when set, for log
    /// lines and errors: never the password.
    /// </summary>
    public static string DescribeRedis(string? connectionString)
    {
        if (connectionString is null)
        {
            return "(no ConnectionStrings:Redis)";
        }
        try
        {
            var options = ConfigurationOptions.Parse(connectionString);
            var endpoints = string.Join(',', options.EndPoints.Select(e => e switch
            {
                DnsEndPoint { Port: 0 } dns => dns.Host,
                DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
                _ => e.ToString(),
            }));
            return endpoints + (options.Ssl ? " over TLS" : "") + (options.ServiceName is { } service ? $" (Sentinel service {service})" : "");
        }
        catch (Exception e) when (e is ArgumentException or FormatException or NotSupportedException)
        {
            return "(ConnectionStrings:Redis)";
        }
    }

    private static void UseRedis(TesseraBuilder tessera, DemoSettings settings)
    {
        var connectionString = settings.RedisConnectionString ?? throw new DemoConfigurationException(
            "Tessera:Store=redis needs ConnectionStrings:Redis, a StackExchange.Redis configuration string such as "
            + $"\"{RedisExample}\" (several endpoints, ssl=true, serviceName=... for Sentinel; set ConnectionStrings__Redis=... or pass --ConnectionStrings:Redis=...).");
        try
        {
            // Tessera:Redis:KeyPrefix lets several demos (or test runs) share one Redis without seeing each other.
            tessera.UseRedisStore(connectionString, options =>
            {
                if (settings.RedisKeyPrefix is { } prefix)
                {
                    options.KeyPrefix = prefix;
                }
            });
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            // StackExchange.Redis's parser names the option and may quote its value ("the value 'x' is not recognised"),
            // so a value that is a password is taken out.
            var reason = e.Message.Split(" (Parameter", 2)[0];
            foreach (Match secret in SecretOption().Matches(connectionString))
            {
                if (secret.Groups[1].Value.Trim() is { Length: > 0 } value)
                {
                    reason = reason.Replace(value, "***", StringComparison.Ordinal);
                }
            }
            throw new DemoConfigurationException(
                $"ConnectionStrings:Redis (or Tessera:Redis:KeyPrefix) is not valid ({reason}); expected something like \"{RedisExample}\".", e);
        }
    }

    /// <summary>The value of a <c>password=</c> or <c>sentinelPassword=</c> option of a configuration string.</summary>
    [GeneratedRegex(@"(?:^|,)\s*(?:password|sentinelPassword)\s*=([^,]*)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex SecretOption();
}
