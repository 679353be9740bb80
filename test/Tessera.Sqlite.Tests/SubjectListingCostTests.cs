using Microsoft.Extensions.Time.Testing;
using System.Reflection;
using Tessera.Testing;

namespace Tessera.Sqlite.Tests;

/// <summary>
/// Listing a user's sessions costs in proportion to that user's sessions, not to the store's: the store's own
/// list-by-subject statement is planned as a search of the subject index, never as a scan of every session.
/// </summary>
public sealed class SubjectListingCostTests : IDisposable
{
    private readonly FakeTimeProvider _clock = new(TestClock.Start);
    private readonly TestDatabaseDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ListingASubjectsSessionsSearchesTheSubjectIndexInsteadOfScanningEverySession()
    {
        var path = _directory.NewDatabasePath();
        using var store = new SqliteSessionStore(new SqliteSessionStoreOptions { ConnectionString = $"Data Source={path}" }, _clock);
        var manager = new SessionManager(store, Microsoft.Extensions.Options.Options.Create(new TesseraOptions { Keys = { SigningKeyRing.GenerateBase64Key() } }), _clock);
        for (var i = 0; i < 500; i++)
        {
            await SignInAsync(manager, $"user{i % 100}");
        }
        for (var i = 0; i < 3; i++)
        {
            await SignInAsync(manager, "alice");
        }
        // The statement ListBySubjectAsync runs, read from the store itself so the plan is of the real query.
        var sql = typeof(SqliteSessionStore).Assembly.GetType("Tessera.Sqlite.SqliteStatements")?.GetField("ListBySubject", BindingFlags.Public | BindingFlags.Static)?.GetRawConstantValue() as string;
        Assert.False(sql is null, "Tessera.Sqlite no longer keeps its list-by-subject statement in SqliteStatements.ListBySubject; point this test at it.");
        Assert.Contains("$subject", sql, StringComparison.Ordinal);

        var plan = Plan(path, sql, ("$subject", "alice"), ("$now", _clock.GetUtcNow().ToUnixTimeMilliseconds()));

        Assert.Equal(3, (await store.ListBySubjectAsync("alice")).Count);
        Assert.Contains("SEARCH s USING INDEX tessera_sessions_subject (subject=?)", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("SCAN s", plan, StringComparison.Ordinal); // no full pass over tessera_sessions
        Assert.DoesNotContain("SCAN d", plan, StringComparison.Ordinal); // each session's data by its primary key
    }

    private static string Plan(string path, string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = TestDatabaseDirectory.OpenRaw(path);
        using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        using var reader = command.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read())
        {
            lines.Add(reader.GetString(3));
        }
        return string.Join('\n', lines);
    }

    // A session as a sign-in request leaves it, with a cart.
    private static async Task SignInAsync(SessionManager manager, string subject)
    {
        var session = manager.Open(null);
        session.SignIn(subject);
        session.Set("cart", new[] { 1, 2, 3 });
        await session.CommitAsync();
    }
}
