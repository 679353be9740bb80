using Xunit;

namespace Tessera.Testing;

/// <summary>
/// The HTTP conformance suite for a store that can end a session on the server: on top of
/// <see cref="SessionHttpConformanceTests{TKit}"/>, a copy of the cookies taken before a sign-in, a regeneration or a destroy
/// is worthless afterwards, and revoking a session by id ends it for every copy of its cookies. Every server-side store
/// passes it (through <see cref="ServerSideSessionHttpConformanceTests{TKit}"/>); the cookie store passes it only with a
/// revocation store. Inheriting it declares that capability.
/// </summary>
public abstract class RevocableSessionHttpConformanceTests<TKit> : SessionHttpConformanceTests<TKit>
    where TKit : StoreKit, new()
{
    /// <summary>Signing in makes a copy of the pre-login cookies worthless: no subject, no data.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task AfterSignInThePreLoginCookieNoLongerWorks()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/cart/apple");
        var before = client.SaveCookies();

        await client.PostAsync("/signin/alice");

        Assert.Equal("alice", await client.GetStringAsync("/whoami"));
        using var attacker = server.CreateClient();
        attacker.RestoreCookies(before);
        Assert.Equal("(anonymous)", await attacker.GetStringAsync("/whoami"));
        Assert.Equal("(none)", await attacker.GetStringAsync("/read/cart"));
        Assert.Equal("apple", await client.GetStringAsync("/read/cart"));
    }

    /// <summary>Regenerate kills a copy of the old cookies, while the new ones keep the session.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RegenerateChangesTheCookieAndTheOldOneStopsWorking()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/set/a/1");
        var before = client.SaveCookies();
        var id = await client.GetStringAsync("/id");

        await client.PostAsync("/regenerate");

        Assert.NotEqual(before[client.CookieName], client.Cookie);
        using var old = server.CreateClient();
        old.RestoreCookies(before);
        Assert.Equal("(none)", await old.GetStringAsync("/read/a"));
        Assert.Equal("(new)", await old.GetStringAsync("/id"));
        Assert.Equal(id, await client.GetStringAsync("/id"));
        Assert.Equal("1", await client.GetStringAsync("/read/a"));
    }

    /// <summary>Destroy clears the cookie, and a replay of a copy of the old cookies finds nothing.</summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task DestroyClearsTheCookieAndAReplayDoesNotWork()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        var before = client.SaveCookies();

        await client.PostAsync("/destroy");

        Assert.NotNull(client.LastSetCookie);
        Assert.Contains("expires=Thu, 01 Jan 1970", client.LastSetCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Null(client.Cookie);
        using var replay = server.CreateClient();
        replay.RestoreCookies(before);
        Assert.Equal("(anonymous)", await replay.GetStringAsync("/whoami"));
    }

    /// <summary>
    /// Revoking a session by id, outside any request (as an operator's tool or a background job does), ends it for the
    /// browser that holds it and for every copy of its cookies; revoking it again reports nothing to revoke.
    /// </summary>
    /// <returns>A task.</returns>
    [Fact]
    public async Task RevokingASessionByIdEndsItForEveryCopyOfItsCookies()
    {
        var server = await StartServerAsync();
        using var client = server.CreateClient();
        await client.PostAsync("/signin/alice");
        var id = await client.GetStringAsync("/id");
        using var copy = server.CreateClient();
        copy.RestoreCookies(client.SaveCookies());
        Assert.Equal("alice", await copy.GetStringAsync("/whoami"));

        Assert.True(await server.Manager.RevokeAsync(id));

        Assert.Equal("(anonymous)", await client.GetStringAsync("/whoami"));
        Assert.Equal("(anonymous)", await copy.GetStringAsync("/whoami"));
        Assert.False(await server.Manager.RevokeAsync(id));
    }
}
