// Four test classes at a time, not one per core (xunit's default: two here, and its conservative algorithm holds a slot
// while a test awaits). The demo's tests mostly wait: on headless Chromium, on demo processes starting and stopping, on
// fleets of three, on a silent server until a client's own timeout fires, on the fleet's real-time refresh-token reuse
// window. With two slots, the longest waits ran side by side while the machine idled. Each class still runs its own
// tests one after the other, so a class fixture (a browser, a fleet, a database) is never shared by two tests at once.
[assembly: CollectionBehavior(MaxParallelThreads = 4)]
