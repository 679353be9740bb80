using Xunit;

namespace Tessera.Testing;

/// <summary>
/// Checks, with one failure that says what is missing, that a store implements the optional interfaces a conformance
/// suite needs. Each suite that needs some runs it as its own test, <c>TheStoreImplementsWhatThisSuiteNeeds</c>, so a
/// custom store that lacks one sees that test fail with the interface's name next to the suite's other failures, instead
/// of only an unexplained assertion deep in a test.
/// </summary>
public static class StoreCapabilities
{
    /// <summary>Asserts that the store (or, for a <see cref="CountingSessionStore"/>, the store it wraps) implements every interface given.</summary>
    /// <param name="store">The store under test.</param>
    /// <param name="suite">The suite's name, for the message.</param>
    /// <param name="interfaces">The optional interfaces the suite needs.</param>
    public static void AssertImplements(ISessionStore store, string suite, params Type[] interfaces)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(interfaces);
        var inner = store is CountingSessionStore counting ? counting.Inner : store;
        var missing = interfaces.Where(i => !i.IsInstanceOfType(inner)).Select(i => i.Name).ToList();
        Assert.True(
            missing.Count == 0,
            $"{inner.GetType().Name} does not implement {string.Join(" and ", missing)}, which {suite} needs (docs/custom-store.md lists what each suite needs). Implement it, or do not inherit {suite}.");
    }
}
