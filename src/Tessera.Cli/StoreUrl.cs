using System.Globalization;
using Npgsql;
using Tessera.PostgreSql;
using Tessera.Redis;
using Tessera.Redis.Resp;
using Tessera.Sqlite;

namespace Tessera.Cli;

/// <summary>The kinds of store the tool opens.</summary>
internal enum StoreKind
{
    Sqlite,
    PostgreSql,
    Redis,
}

/// <summary>
/// A store named by URL: <c>sqlite:PATH</c>, <c>postgres://user:pass@host:port/db[?schema=S]</c>,
/// <c>redis://[user][:pass@]host[:port][/db][?prefix=P]</c>. Keeps the password apart so that nothing the tool prints
/// can contain it (see <see cref="Scrub"/>).
/// </summary>
internal sealed class StoreUrl
{
    private StoreUrl(StoreKind kind, string display, string? secret)
    {
        Kind = kind;
        Display = display;
        Secret = secret;
    }

    public StoreKind Kind { get; }

    /// <summary>The URL with any password replaced by <c>***</c>: safe to print.</summary>
    public string Display { get; }

    /// <summary>The password, to scrub from messages; <see langword="null"/> when the URL has none.</summary>
    public string? Secret { get; }

    public string? SqlitePath { get; private set; }

    public NpgsqlConnectionStringBuilder? Postgres { get; private set; }

    public string PostgresSchema { get; private set; } = PostgreSqlSessionStoreDefaults.Schema;

    public RedisOptions? Redis { get; private set; }

    public string RedisPrefix { get; private set; } = RedisSessionStoreDefaults.KeyPrefix;

    /// <summary>Parses a store URL; the message of a <see cref="FormatException"/> never contains the password.</summary>
    public static StoreUrl Parse(string text, string? prefixOverride)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = text.Trim();
        if (text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = text["sqlite:".Length..];
            if (path.StartsWith("//", StringComparison.Ordinal))
            {
                path = path[2..];
            }
            if (path.Length == 0)
            {
                throw new FormatException("A SQLite store URL names a file: sqlite:./data/sessions.db");
            }
            return new StoreUrl(StoreKind.Sqlite, "sqlite:" + path, null) { SqlitePath = path };
        }
        // The user info is taken apart by hand: System.Uri refuses some valid forms (redis://:password@host) and a
        // password may hold unescaped '@' or '/'. Its text never reaches an exception message.
        string? user = null, password = null;
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme > 0)
        {
            var authorityStart = scheme + 3;
            // Paths and queries of these URLs never hold '@', so the user info ends at the last one.
            var queryStart = text.IndexOf('?', authorityStart);
            var at = text.LastIndexOf('@', queryStart < 0 ? text.Length - 1 : queryStart);
            if (at >= authorityStart)
            {
                var info = text[authorityStart..at];
                var colon = info.IndexOf(':', StringComparison.Ordinal);
                var rawUser = colon < 0 ? info : info[..colon];
                var rawPassword = colon < 0 ? "" : info[(colon + 1)..];
                user = rawUser.Length == 0 ? null : Unescape(rawUser);
                password = rawPassword.Length == 0 ? null : Unescape(rawPassword);
                text = text[..authorityStart] + text[(at + 1)..];
            }
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme.Equals("file", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("The store URL is not one of sqlite:PATH, postgres://user:password@host:port/database or redis://[:password@]host:port[/db].");
        }
        var query = Query(uri);
        switch (uri.Scheme.ToLowerInvariant())
        {
            case "postgres":
            case "postgresql":
            {
                var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
                if (uri.Host.Length == 0 || database.Length == 0)
                {
                    throw new FormatException("A PostgreSQL store URL names a host and a database: postgres://user:password@host:5432/database");
                }
                var builder = new NpgsqlConnectionStringBuilder
                {
                    Host = uri.Host,
                    Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
                    Database = database,
                    Timeout = 5,
                    // A short-lived tool: no pool to keep warm, and no connection left open at exit.
                    Pooling = false,
                };
                if (user is not null)
                {
                    builder.Username = user;
                }
                if (password is not null)
                {
                    builder.Password = password;
                }
                var url = new StoreUrl(StoreKind.PostgreSql, Redact(uri, user, password), password) { Postgres = builder };
                if (query.TryGetValue("schema", out var schema))
                {
                    url.PostgresSchema = schema;
                }
                return url;
            }
            case "redis":
            {
                if (uri.Host.Length == 0)
                {
                    throw new FormatException("A Redis store URL names a host: redis://[:password@]host:6379[/db]");
                }
                var options = new RedisOptions
                {
                    Host = uri.Host.Trim('[', ']'),
                    Port = uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port,
                    User = string.IsNullOrEmpty(user) ? null : user,
                    Password = password,
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    CommandTimeout = TimeSpan.FromSeconds(30),
                };
                var path = uri.AbsolutePath.Trim('/');
                if (path.Length > 0)
                {
                    if (!int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out var db))
                    {
                        throw new FormatException("The path of a Redis store URL is a database number: redis://host:6379/0");
                    }
                    options.Database = db;
                }
                var url = new StoreUrl(StoreKind.Redis, Redact(uri, user, password), password) { Redis = options };
                if (query.TryGetValue("prefix", out var prefix))
                {
                    url.RedisPrefix = prefix;
                }
                if (prefixOverride is not null)
                {
                    url.RedisPrefix = prefixOverride;
                }
                return url;
            }
            default:
                throw new FormatException($"Unknown store scheme '{uri.Scheme}': use sqlite:, postgres:// or redis://.");
        }
    }

    /// <summary>Removes the password from a message (any text the tool prints about this store).</summary>
    public string Scrub(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!string.IsNullOrEmpty(Secret))
        {
            message = message.Replace(Secret, "***", StringComparison.Ordinal);
            var escaped = Uri.EscapeDataString(Secret);
            if (!string.Equals(escaped, Secret, StringComparison.Ordinal))
            {
                message = message.Replace(escaped, "***", StringComparison.Ordinal);
            }
        }
        return message;
    }

    private static string Unescape(string text)
    {
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException)
        {
            return text;
        }
    }

    private static Dictionary<string, string> Query(Uri uri)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException("The store URL's query is not of the form name=value.");
            }
            var name = Uri.UnescapeDataString(pair[..eq]);
            if (!name.Equals("schema", StringComparison.OrdinalIgnoreCase) && !name.Equals("prefix", StringComparison.OrdinalIgnoreCase))
            {
                throw new FormatException($"Unknown store URL option '{name}' (known: schema for PostgreSQL, prefix for Redis).");
            }
            result[name] = Uri.UnescapeDataString(pair[(eq + 1)..]);
        }
        return result;
    }

    private static string Redact(Uri uri, string? user, string? password)
    {
        var info = (user, password) switch
        {
            (null, null) => "",
            (_, null) => Uri.EscapeDataString(user!) + "@",
            _ => (user is null ? "" : Uri.EscapeDataString(user)) + ":***@",
        };
        return uri.Scheme + "://" + info + uri.GetComponents(UriComponents.HostAndPort | UriComponents.PathAndQuery, UriFormat.SafeUnescaped);
    }
}
