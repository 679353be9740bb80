using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Tessera.AspNetCore;
using Tessera.Tokens;
using Xunit;

namespace Tessera.Testing;

public abstract partial class ConcurrencyConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    // ---------------------------------------------------------------------------------------------------------------
    // One subject, many parallel sign-ins, under a session limit
    // ---------------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Fifty parallel sign-ins of one subject through <see cref="SessionManager"/> (cookie sessions committed by
    /// <see cref="TesseraSession.CommitAsync"/>, or token sessions by <see cref="SessionTokenService.TryCreateAsync"/>) under a
    /// limit of three leave exactly three live sessions; under <see cref="SessionLimitPolicy.RefuseNewSignIn"/> exactly
    /// three sign-ins succeed and they are the live ones; every other session is revoked once, for the limit.
    /// </summary>
    /// <param name="policy">The limit's policy.</param>
    /// <param name="transport"><c>cookie</c> or <c>token</c>.</param>
    /// <returns>The test.</returns>
    [Theory]
    [InlineData(SessionLimitPolicy.RevokeLeastRecentlyUsed, "cookie")]
    [InlineData(SessionLimitPolicy.RevokeLeastRecentlyUsed, "token")]
    [InlineData(SessionLimitPolicy.RefuseNewSignIn, "cookie")]
    [InlineData(SessionLimitPolicy.RefuseNewSignIn, "token")]
    public async Task FiftyParallelSignInsNeverExceedTheLimit(SessionLimitPolicy policy, string transport)
    {
        using var metrics = new TesseraMetricCollector();
        var manager = NewManager(
            CreateStore(),
            o =>
            {
                o.MaxSessionsPerSubject = Limit;
                o.SessionLimitPolicy = policy;
            },
            metrics);

        var accepted = await RaceAsync(async _ =>
        {
            if (transport == "token")
            {
                var result = await manager.Tokens.TryCreateAsync("alice");
                Assert.True(result.Succeeded || result.Failure == TokenFailure.SessionLimitReached, result.Reason);
                return result.Value?.SessionId;
            }
            var session = manager.Open(null);
            await session.LoadAsync();
            session.SignIn("alice");
            var commit = await session.CommitAsync();
            Assert.Equal(commit.Change == CredentialChange.Clear, session.SignInRefused);
            return commit.Change == CredentialChange.Issue ? commit.SessionId : null;
        });

        await AssertWithinLimitAsync(manager, policy, accepted, metrics);
    }

    /// <summary>
    /// Fifty clients sign one subject in at once over HTTP (a cookie sign-in at <c>/signin/alice</c>, or a token sign-in
    /// answered with <see cref="TesseraTokenResults.Tokens"/>) under a limit of three: exactly three live sessions remain,
    /// and the clients whose credential still works are exactly those; under <see cref="SessionLimitPolicy.RefuseNewSignIn"/>
    /// exactly three clients were given a credential, and the others had theirs cleared or a 403.
    /// </summary>
    /// <param name="policy">The limit's policy.</param>
    /// <param name="transport"><c>cookie</c> or <c>token</c>.</param>
    /// <returns>The test.</returns>
    [Theory]
    [InlineData(SessionLimitPolicy.RevokeLeastRecentlyUsed, "cookie")]
    [InlineData(SessionLimitPolicy.RevokeLeastRecentlyUsed, "token")]
    [InlineData(SessionLimitPolicy.RefuseNewSignIn, "cookie")]
    [InlineData(SessionLimitPolicy.RefuseNewSignIn, "token")]
    public async Task FiftyParallelSignInRequestsNeverExceedTheLimit(SessionLimitPolicy policy, string transport)
    {
        var revoked = new RevokedSessions();
        var server = await StartServerAsync(
            CreateStore(),
            o =>
            {
                o.MaxSessionsPerSubject = Limit;
                o.SessionLimitPolicy = policy;
                o.Events.OnRevoked = revoked.Record;
            },
            bearerTokens: true,
            mapExtraRoutes: app => app.MapPost("/token-signin/{user}", async (SessionManager manager, string user, CancellationToken cancellationToken) =>
            {
                var result = await manager.Tokens.TryCreateAsync(user, cancellationToken: cancellationToken);
                return result.Succeeded ? TesseraTokenResults.Tokens(result.Value!) : Results.Text(result.Reason, statusCode: StatusCodes.Status403Forbidden);
            }));

        var clients = new List<CookieClient>();
        try
        {
            var accepted = await RaceOverHttpAsync(server, async client =>
            {
                lock (clients)
                {
                    clients.Add(client);
                }
                if (transport == "token")
                {
                    using var response = await client.SendAsync(HttpMethod.Post, "/token-signin/alice", new ByteArrayContent([]));
                    var text = await response.Content.ReadAsStringAsync();
                    Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Forbidden, $"{(int)response.StatusCode}: {text}");
                    if (response.StatusCode == HttpStatusCode.Forbidden)
                    {
                        Assert.Equal("session_limit_reached", text);
                        return null;
                    }
                    using var json = JsonDocument.Parse(text);
                    client.AccessToken = Text(json, "accessToken");
                    return client.AccessToken;
                }
                Assert.Equal("ok", await client.PostAsync("/signin/alice"));
                Assert.NotNull(client.LastSetCookie); // issued, or cleared because the sign-in was refused
                return client.Cookie;
            }, dispose: false);

            var live = await server.Manager.Subjects.ListAsync("alice");
            Assert.Equal(Limit, live.Count);
            var acceptedCount = accepted.Count(c => c is not null);
            Assert.Equal(policy == SessionLimitPolicy.RefuseNewSignIn ? Limit : Clients, acceptedCount);
            // Whoever still holds a working credential holds one of the live sessions, and each live session has its holder.
            var holders = new List<string>();
            foreach (var client in clients)
            {
                if (await client.GetStringAsync("/whoami") == "alice")
                {
                    holders.Add(await client.GetStringAsync("/id"));
                }
            }
            Assert.Equal(live.Select(s => s.Id).Order(StringComparer.Ordinal), holders.Order(StringComparer.Ordinal));
            revoked.AssertEachOnceForTheLimit(Clients - Limit);
            Assert.DoesNotContain(live, s => revoked.Contains(s.Id));
            foreach (var credential in accepted.OfType<string>())
            {
                Assert.DoesNotContain(credential, server.Logs.AllText(), StringComparison.Ordinal);
            }
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>
    /// At the store: a <see cref="SessionLimitOrder.NewcomerOnly"/> trim revokes the named session when the subject holds
    /// more than <c>keep</c> live sessions, and never any other (not even when the subject holds more without it);
    /// within the limit, without a name, or naming a session that is not one of the subject's live ones, it revokes nothing.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task ANewcomerOnlyTrimRevokesTheNewcomerAndNothingElse()
    {
        var store = CreateStore();
        var limiter = Limiter(store);
        var now = Now();
        var sessions = new List<SessionRecord>();
        for (var i = 0; i < 4; i++)
        {
            // Created oldest last, so a ranking by creation time would pick another session than the newcomer.
            sessions.Add(await CreateAsync(store, "alice", now.AddMinutes(-i)));
        }
        var bob = await CreateAsync(store, "bob", now);

        Assert.Empty(await limiter.TrimSubjectAsync("alice", 4, SessionLimitOrder.NewcomerOnly, sessions[0].Id, now));
        Assert.Empty(await limiter.TrimSubjectAsync("alice", 3, SessionLimitOrder.NewcomerOnly, null, now));
        Assert.Empty(await limiter.TrimSubjectAsync("alice", 3, SessionLimitOrder.NewcomerOnly, bob.Id, now));
        Assert.Empty(await limiter.TrimSubjectAsync("alice", 3, SessionLimitOrder.NewcomerOnly, Guid.NewGuid().ToString("D"), now));
        Assert.Equal([sessions[3].Id], await limiter.TrimSubjectAsync("alice", 1, SessionLimitOrder.NewcomerOnly, sessions[3].Id, now));
        Assert.Empty(await limiter.TrimSubjectAsync("alice", 1, SessionLimitOrder.NewcomerOnly, sessions[3].Id, now));

        Assert.Null(await store.LoadAsync(sessions[3].Id));
        foreach (var kept in sessions.Take(3).Append(bob))
        {
            Assert.NotNull(await store.LoadAsync(kept.Id));
        }
    }

    /// <summary>
    /// At the store: fifty sessions of one subject, all created in the same millisecond, each trimmed
    /// <see cref="SessionLimitOrder.NewcomerOnly"/> right after its creation and all at once: exactly three survive, and
    /// they are exactly the ones whose own trim did not revoke them.
    /// </summary>
    /// <returns>The test.</returns>
    [Fact]
    public async Task FiftyRacingNewcomerOnlyTrimsKeepExactlyTheLimit()
    {
        var store = CreateStore();
        var limiter = Limiter(store);
        var now = Now();

        var kept = await RaceAsync(async _ =>
        {
            var record = await CreateAsync(store, "alice", now);
            var revoked = await limiter.TrimSubjectAsync("alice", Limit, SessionLimitOrder.NewcomerOnly, record.Id, now);
            Assert.True(revoked.Count == 0 || (revoked.Count == 1 && revoked[0] == record.Id), "a newcomer-only trim revoked another session");
            return revoked.Count == 0 ? record.Id : null;
        });

        var survivors = kept.OfType<string>().Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Limit, survivors.Count);
        var live = (await ((ISubjectSessionIndex)store).ListBySubjectAsync("alice")).Where(r => r.IsActiveAt(now)).Select(r => r.Id);
        Assert.Equal(survivors, live.Order(StringComparer.Ordinal));
    }
}
